using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Pipeline;

/// <summary>
/// The checked-in files derived from <see cref="RecipeSchema"/>: docs/generated/options.md, docs/recipe.schema.json,
/// the property tables of docs/recipe.md, the metadata defaults in build/ModelBuild.props and the file inputs in
/// build/ModelBuild.targets (the last three between "RecipeSchema: begin/end" markers). RecipeSchemaTests fails when they drift and rewrites them with MODELBUILD_REGENERATE=1.
/// </summary>
public static partial class RecipeSchemaFiles
{
    public const string OptionsDoc = "docs/generated/options.md";
    public const string Props = "build/ModelBuild.props";
    public const string Targets = "build/ModelBuild.targets";
    public const string JsonSchemaFile = "docs/recipe.schema.json";
    public const string RecipeDoc = "docs/recipe.md";

    /// <summary>Each generated file (repository-relative) and its content given the file's current text.</summary>
    public static IEnumerable<(string Path, Func<string, string> Render)> All() =>
    [
        (OptionsDoc, _ => OptionsMarkdown()),
        (Props, text => Splice(text, PropsBlock())),
        (Targets, text => Splice(text, TargetsBlock())),
        (JsonSchemaFile, _ => JsonSchema()),
        (RecipeDoc, text => Splice(text, RecipeTables())),
    ];

    /// <summary>The headings of docs/recipe.md's tables, one per owning stage, in the order the schema first names each.</summary>
    private static readonly Dictionary<string, string> StageHeadings = new()
    {
        [RecipeSchema.Quantize] = "Quantization",
        [RecipeSchema.Optimize] = "Graph optimization",
        [RecipeSchema.Prune] = "Pruning",
        [RecipeSchema.Distill] = "Distillation",
        [RecipeSchema.Evaluate] = "Evaluation and gates",
        [RecipeSchema.Run] = "Run settings",
        [RecipeSchema.Reading] = "Reading data\n\nThese apply to every data file of the recipe (training, evaluation, calibration); see cli.md, \"Data formats\".",
    };

    /// <summary>docs/recipe.md's property tables: one per owning stage, one row per setting (its <see cref="RecipeSetting.Doc"/>, else its help).</summary>
    public static string RecipeTables()
    {
        var text = new StringBuilder();
        foreach (var group in RecipeSchema.Settings.GroupBy(s => s.Stage))
        {
            text.AppendLine().AppendLine($"### {StageHeadings[group.Key]}").AppendLine()
                .AppendLine("| property | type | default | meaning |")
                .AppendLine("| --- | --- | --- | --- |");
            foreach (var s in group)
                text.AppendLine($"| `{s.Json}` | {JsonType(s)} | {DefaultText(s)} | {Escape(s.Doc ?? s.Help)} |");
        }
        return text.AppendLine().ToString();
    }

    /// <summary>A value's JSON type as docs/recipe.md writes it.</summary>
    private static string JsonType(RecipeSetting s) => s.Kind switch
    {
        SettingKind.File or SettingKind.Data => "string (path)",
        SettingKind.Number => "number",
        SettingKind.Integer => "integer",
        SettingKind.Bool => "boolean",
        SettingKind.Numbers => "array of numbers",
        SettingKind.Names => "array of strings",
        _ => "string",
    } + (IsNullable(s) ? " or null" : "");

    private static string DefaultText(RecipeSetting s) => s.Default.Length == 0
        ? (s.Unset is { } unset ? $"null ({unset})" : "null")
        : s.Kind switch
        {
            SettingKind.Word or SettingKind.Text => $"`\"{s.Default}\"`",
            SettingKind.Bool => $"`{s.Default}`",
            _ => s.Default,
        };

    /// <summary>Quantize is a non-null string with a default; every other reference-typed setting may be null.</summary>
    private static bool IsNullable(RecipeSetting s) =>
        (!s.ValueType.IsValueType || Nullable.GetUnderlyingType(s.ValueType) is not null) && s.Metadata != nameof(CompressionRecipe.Quantize);

    /// <summary>The JSON Schema of a recipe file, for editors: teacher, output and every setting.</summary>
    public static string JsonSchema()
    {
        var properties = new JsonObject
        {
            ["teacher"] = new JsonObject { ["type"] = "string", ["description"] = "The float ONNX model to compress." },
            ["output"] = new JsonObject { ["type"] = "string", ["description"] = "Where the compressed model is written." },
        };
        foreach (var s in RecipeSchema.Settings) properties[s.Json] = JsonProperty(s);
        var schema = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["title"] = "ModelBuild compression recipe",
            ["description"] = "CompressionRecipe: what to do to one model. See docs/recipe.md. Generated from RecipeSchema.cs (docs/recipe-schema.md).",
            ["type"] = "object",
            ["additionalProperties"] = false,
            ["properties"] = properties,
        };
        return schema.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }

    private static JsonObject JsonProperty(RecipeSetting s)
    {
        var nullable = IsNullable(s);
        var type = s.Kind switch
        {
            SettingKind.Number => "number",
            SettingKind.Integer => "integer",
            SettingKind.Bool => "boolean",
            SettingKind.Numbers or SettingKind.Names => "array",
            _ => "string",
        };
        var property = new JsonObject { ["type"] = nullable ? new JsonArray(type, "null") : type };
        if (s.Words.Length > 0) property["enum"] = new JsonArray(s.Words.Select(w => (JsonNode)w).ToArray());
        if (s.Kind == SettingKind.Numbers)
        {
            property["items"] = new JsonObject { ["type"] = "number" };
            property["minItems"] = 1;
            property["maxItems"] = 3;
        }
        if (s.Kind == SettingKind.Names) property["items"] = new JsonObject { ["type"] = "string" };
        if (s.Kind is SettingKind.Number or SettingKind.Integer)
        {
            if (s.Min > int.MinValue && s.Min != double.MinValue) property[s.MinInclusive || s.Kind == SettingKind.Integer ? "minimum" : "exclusiveMinimum"] = s.Min;
            if (s.Max != double.MaxValue) property[s.MaxInclusive ? "maximum" : "exclusiveMaximum"] = s.Max;
        }
        if (s.Default.Length > 0)
        {
            property["default"] = s.Kind switch
            {
                SettingKind.Bool => s.Default == "true",
                SettingKind.Integer => long.Parse(s.Default, System.Globalization.CultureInfo.InvariantCulture),
                SettingKind.Number => double.Parse(s.Default, System.Globalization.CultureInfo.InvariantCulture),
                _ => s.Default,
            };
        }
        property["description"] = s.Help;
        return property;
    }

    public static string OptionsMarkdown()
    {
        var text = new StringBuilder()
            .AppendLine("<!-- Generated from src/ModelBuild.Compression/Pipeline/Contract/RecipeSchema.cs; do not edit. Regenerate: docs/recipe-schema.md. -->")
            .AppendLine("# Recipe settings")
            .AppendLine()
            .AppendLine("Every setting of a compression, under its three names: `<CompressModel>` metadata (docs/msbuild.md), `modelbuild compress` option (docs/cli.md) and recipe-file property (docs/recipe.md).")
            .AppendLine("*Stage* owns the setting; *cache key of* lists the stages whose cached output it changes (the per-stage cache, `--stage-cache`). Every setting is part of the whole result's cache key. Files and data are hashed by content.")
            .AppendLine()
            .AppendLine("| metadata | option | recipe file | kind | stage | cache key of | default | meaning |")
            .AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var s in RecipeSchema.Settings)
        {
            var option = string.Join(", ", s.Spellings.Select(o => $"`{o}`"));
            var fallback = s.Default.Length > 0 ? $"`{s.Default}`" : "";
            text.AppendLine($"| `{s.Metadata}` | {option} | `{s.Json}` | {Kind(s)} | {s.Stage} | {string.Join(", ", s.UsedBy)} | {fallback} | {Escape(s.Help)} |");
        }
        return text.ToString();
    }

    private static string Kind(RecipeSetting s) => s.Kind switch
    {
        SettingKind.File => "file",
        SettingKind.Data => "data (file, folder, `file.npz:name`)",
        SettingKind.Number => $"number in {s.Range}",
        SettingKind.Integer => s.Range,
        SettingKind.Bool => "true/false",
        SettingKind.Word => "one of " + string.Join(", ", s.Words.Select(w => $"`{w}`")),
        SettingKind.Numbers => s.Positive ? "1 or 3 numbers > 0" : "1 or 3 numbers",
        SettingKind.Names => "names, `;` or `,` separated",
        _ => "text",
    };

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    /// <summary>Empty item metadata for every setting: an empty value means "the Recipe file's, else the worker's default".</summary>
    public static string PropsBlock() =>
        string.Concat(RecipeSchema.Settings.Select(s => $"      <{s.Metadata}></{s.Metadata}>\n"));

    /// <summary>
    /// Every metadata that names a file is an input of the compress target. A data setting's value is a data spec, not
    /// always a path: <c>file.npz:name</c> is the file <c>file.npz</c> (the member is what follows the last colon, as
    /// the readers split it), and <c>generated[:N]</c> names no file. Given as is, MSBuild found no such input and ran
    /// the target on every build. The value is quoted with backticks in the property functions: MSBuild puts it into
    /// the expression as text, and an apostrophe (/home/o'brien/...) would end a '...' argument and fail the build.
    /// </summary>
    public static string TargetsBlock() =>
        string.Concat(RecipeSchema.Files.Select(s => s.Kind == SettingKind.Data
            ? $"      <_ModelBuildInput Include=\"$([System.Text.RegularExpressions.Regex]::Replace(`%(CompressModel.{s.Metadata})`, `(?i)^(.*\\.npz):[^:]+$`, `$1`))\" Condition=\"'%(CompressModel.{s.Metadata})' != '' and !$([System.Text.RegularExpressions.Regex]::IsMatch(`%(CompressModel.{s.Metadata})`, `(?i)^generated(:.*)?$`))\" />\n"
            : $"      <_ModelBuildInput Include=\"%(CompressModel.{s.Metadata})\" Condition=\"'%(CompressModel.{s.Metadata})' != ''\" />\n"));

    /// <summary>Replaces what stands between the begin and end markers' lines.</summary>
    public static string Splice(string text, string block)
    {
        var match = Block().Match(text);
        if (!match.Success) throw new InvalidOperationException("The file has no '<!-- RecipeSchema: begin' ... '<!-- RecipeSchema: end -->' markers.");
        return text[..match.Groups[1].Index] + block + text[(match.Groups[1].Index + match.Groups[1].Length)..];
    }

    [GeneratedRegex(@"<!-- RecipeSchema: begin[^\n]*\n(.*?)[ \t]*<!-- RecipeSchema: end -->", RegexOptions.Singleline)]
    private static partial Regex Block();
}
