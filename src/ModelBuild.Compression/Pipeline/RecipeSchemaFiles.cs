using System.Text;
using System.Text.RegularExpressions;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Pipeline;

/// <summary>
/// The checked-in files derived from <see cref="RecipeSchema"/>: docs/generated/options.md, the metadata defaults in
/// build/ModelBuild.props and the file inputs in build/ModelBuild.targets (each between "RecipeSchema: begin/end"
/// markers). RecipeSchemaGeneratedFilesTests fails when they drift and rewrites them with MODELBUILD_REGENERATE=1.
/// </summary>
public static partial class RecipeSchemaFiles
{
    public const string OptionsDoc = "docs/generated/options.md";
    public const string Props = "build/ModelBuild.props";
    public const string Targets = "build/ModelBuild.targets";

    /// <summary>Each generated file (repository-relative) and its content given the file's current text.</summary>
    public static IEnumerable<(string Path, Func<string, string> Render)> All() =>
    [
        (OptionsDoc, _ => OptionsMarkdown()),
        (Props, text => Splice(text, PropsBlock())),
        (Targets, text => Splice(text, TargetsBlock())),
    ];

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
            var option = string.Join(", ", new[] { s.Option }.Concat(s.Aliases).Select(o => $"`{o}`"));
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

    /// <summary>Every metadata that names a file is an input of the compress target.</summary>
    public static string TargetsBlock() =>
        string.Concat(RecipeSchema.Files.Select(s =>
            $"      <_ModelBuildInput Include=\"%(CompressModel.{s.Metadata})\" Condition=\"'%(CompressModel.{s.Metadata})' != ''\" />\n"));

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
