using System.Text.Json;
using Microsoft.Build.Framework;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Tasks.Diagnostics;

namespace ModelBuild.Tasks.Recipe;

/// <summary>
/// Turns one <c>&lt;CompressModel&gt;</c> item into a <see cref="CompressionRecipe"/> with absolute paths.
/// The item's <c>Recipe</c> file (if any) is the base; metadata set on the item override it. Values use the command
/// line's words, case-insensitively, and the spelling of DESIGN.md's example is accepted too (<c>Int8Static</c> =
/// <c>int8-static</c>). Every problem is a <see cref="TaskDiagnosticException"/> naming the item and the metadata.
/// </summary>
internal sealed class RecipeFromItem
{
    /// <summary>Metadata that name files: checked for existence and hashed into the cache key (the schema's file settings and Recipe).</summary>
    public static readonly string[] FileMetadata = [.. RecipeSchema.Files.Select(s => s.Metadata), "Recipe"];

    /// <summary>
    /// The metadata a user sets on the item (docs/msbuild.md): the schema's settings, Recipe, and those
    /// ModelBuild.targets reads itself. A custom name that is a near miss of one of these is refused (MB0613).
    /// </summary>
    public static readonly string[] ItemMetadata =
        [.. RecipeSchema.Settings.Select(s => s.Metadata), "Recipe", "OutputName", "CopyToOutputDirectory", "CopyToPublishDirectory"];

    private readonly ITaskItem item;
    private readonly string projectDirectory;

    private RecipeFromItem(ITaskItem item, string projectDirectory)
    {
        this.item = item;
        this.projectDirectory = projectDirectory;
    }

    /// <summary>How the item is named in messages: its Include as written.</summary>
    private string Name => item.ItemSpec;

    public static CompressionRecipe Build(ITaskItem item, string projectDirectory) => new RecipeFromItem(item, projectDirectory).Build();

    private CompressionRecipe Build()
    {
        RefuseMisspeltMetadata();
        var recipe = LoadRecipeFile() ?? new CompressionRecipe();
        recipe.Teacher = RequireFile(item.ItemSpec, null, projectDirectory);

        foreach (var setting in RecipeSchema.Settings)
        {
            if (Meta(setting.Metadata) is { } value) setting.Set(recipe, Value(setting, setting.Metadata, value, projectDirectory));
            else if (setting.BuildDefault is { } fallback && setting.Get(recipe) is null) setting.Set(recipe, fallback);
        }

        if ((recipe.MaxAccuracyDrop is not null || recipe.MinAgreement is not null) && recipe.EvaluationData is null)
        {
            throw new TaskDiagnosticException(TaskCodes.MissingFile,
                $"CompressModel '{Name}': {(recipe.MaxAccuracyDrop is not null ? "MaxAccuracyDrop" : "MinAgreement")} is set but EvaluationData is not, so the gate cannot be measured.",
                "Add EvaluationData (and EvaluationLabels for accuracy) to the item, or remove the gate.", item.ItemSpec);
        }
        return recipe;
    }

    /// <summary>
    /// Build() reads only the names it knows, so a misspelt one (<c>Quantise</c>, <c>MaxAccuraccyDrop</c>) would drop
    /// its setting, or a gate, without a word. Other tools' metadata (Link, Pack, ...) stay allowed: only a near miss
    /// of a ModelBuild name is an error. Empty values are skipped: they set nothing (and ItemDefinitionGroups declare them).
    /// </summary>
    private void RefuseMisspeltMetadata()
    {
        var misses = new List<string>();
        // Custom metadata only: MSBuild's well-known ones (FullPath, Identity, ...) are not in this dictionary.
        foreach (var name in item.CloneCustomMetadata().Keys.Cast<string>().Order(StringComparer.Ordinal))
        {
            if (string.IsNullOrWhiteSpace(item.GetMetadata(name))) continue;
            if (ItemMetadata.Contains(name, StringComparer.OrdinalIgnoreCase)) continue; // MSBuild metadata names ignore case
            if (NearestKnown(name) is { } known) misses.Add($"'{name}' (did you mean '{known}'?)");
        }
        if (misses.Count == 0) return;
        throw new TaskDiagnosticException(TaskCodes.MisspeltMetadata,
            $"CompressModel '{Name}': metadata {string.Join(", ", misses)} {(misses.Count == 1 ? "is" : "are")} not ModelBuild metadata, so {(misses.Count == 1 ? "its setting" : "their settings")} would be ignored.",
            "Rename the metadata to the name suggested (docs/msbuild.md lists every one), or give a name not close to a ModelBuild one if it is meant for another tool.", item.ItemSpec);
    }

    /// <summary>
    /// The command line's spellings of each setting, folded ("traindata" for --train-data, "evallabels" for
    /// --eval-labels): a user who copies them from docs/cli.md onto the item is told the metadata name, however far it is.
    /// </summary>
    private static readonly Dictionary<string, string> OptionSpellings = RecipeSchema.Settings
        .SelectMany(s => s.Spellings.Select(o => (Folded: Fold(o), s.Metadata)))
        .Where(p => p.Folded.Length > 0)
        .DistinctBy(p => p.Folded)
        .ToDictionary(p => p.Folded, p => p.Metadata);

    private static string Fold(string s) => s.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>
    /// The known name <paramref name="name"/> is a near miss of: equal ignoring case, '-' and '_'; a command-line
    /// spelling of it; or within 1 edit of a name of at most 6 letters, 2 of a longer one (ignoring case). Short names
    /// allow one edit only: "Source" is two from "Force", "Heads" two from "Seeds", and such metadata belong to others.
    /// </summary>
    internal static string? NearestKnown(string name)
    {
        var folded = Fold(name);
        if (ItemMetadata.FirstOrDefault(k => Fold(k) == folded) is { } same) return same;
        if (OptionSpellings.TryGetValue(folded, out var metadata)) return metadata;
        var best = ItemMetadata.Select(k => (Known: k, Distance: EditDistance(name.ToLowerInvariant(), k.ToLowerInvariant())))
            .Where(c => c.Distance <= (Math.Min(name.Length, c.Known.Length) <= 6 ? 1 : 2)).OrderBy(c => c.Distance).FirstOrDefault();
        return best.Known;
    }

    /// <summary>Levenshtein distance (insertions, deletions, substitutions).</summary>
    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    private string? Meta(string name)
    {
        var value = item.GetMetadata(name);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }

    private CompressionRecipe? LoadRecipeFile()
    {
        if (Meta("Recipe") is not { } recipeMeta) return null;
        var path = RequireFile(recipeMeta, "Recipe", projectDirectory);
        CompressionRecipe recipe;
        try
        {
            recipe = CompressionRecipe.FromJson(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new TaskDiagnosticException(TaskCodes.BadRecipe,
                $"CompressModel '{Name}': the Recipe file '{recipeMeta}' is not a valid recipe: {e.Message}",
                "Fix the JSON (see docs/msbuild.md for the recipe's fields) or use item metadata instead.", path);
        }
        // Paths in a recipe file are relative to the recipe file's folder, like paths in a csproj are to the project.
        var baseDirectory = Path.GetDirectoryName(path)!;
        foreach (var setting in RecipeSchema.Settings)
        {
            // Paths resolve against the recipe's folder; words take their canonical spelling (numbers are typed by the JSON).
            if (setting.Kind is SettingKind.File or SettingKind.Data or SettingKind.Word && setting.Get(recipe) is string value)
                setting.Set(recipe, Value(setting, $"Recipe:{setting.Json}", value, baseDirectory));
        }
        return recipe;
    }

    private string RequireFile(string value, string? metadata, string baseDirectory)
    {
        var full = FullPath(value, metadata, baseDirectory);
        if (File.Exists(full)) return full;
        var what = metadata is null ? "the model file" : $"{metadata} '{value}'";
        throw new TaskDiagnosticException(TaskCodes.MissingFile,
            $"CompressModel '{Name}': {what} does not exist (looked for {full}).",
            metadata is null
                ? "Fix the item's Include; relative paths are relative to the project folder."
                : $"Fix the {metadata} path; relative paths are relative to the {(metadata.StartsWith("Recipe:", StringComparison.Ordinal) ? "recipe file's" : "project")} folder.",
            metadata is null ? value : item.ItemSpec);
    }

    /// <summary>A path the OS cannot name (a NUL character, e.g. from a property function) is a missing file, not a task crash.</summary>
    private string FullPath(string value, string? metadata, string baseDirectory)
    {
        try
        {
            return Path.GetFullPath(Path.Combine(baseDirectory, value));
        }
        catch (ArgumentException e)
        {
            throw new TaskDiagnosticException(TaskCodes.MissingFile,
                $"CompressModel '{Name}': {(metadata is null ? "the model path" : metadata)} '{value.Replace("\0", "\\0", StringComparison.Ordinal)}' is not a valid path ({e.Message}).",
                $"Fix the {(metadata is null ? "item's Include" : metadata + " path")}.", item.ItemSpec);
        }
    }

    /// <summary>Data inputs may be a file or a folder (image folders, TensorProto folders); <c>file.npz:name</c> names an archive member.</summary>
    private string RequireData(string value, string metadata, string baseDirectory)
    {
        if (DataInputHash.IsGenerated(value.Trim())) return value.Trim();
        var full = FullPath(value, metadata, baseDirectory);
        if (Directory.Exists(full)) return full;
        if (DataInputHash.NpzMember(full) is { } npz && File.Exists(npz.Archive)) return full;
        return RequireFile(value, metadata, baseDirectory);
    }

    /// <summary>One setting's value from its text, validated by the schema; files are resolved against <paramref name="baseDirectory"/>.</summary>
    private object? Value(RecipeSetting setting, string label, string value, string baseDirectory)
    {
        if (setting.Kind == SettingKind.File) return RequireFile(value, label, baseDirectory);
        if (setting.Kind == SettingKind.Data) return RequireData(value, label, baseDirectory);
        try
        {
            return setting.Parse(label, value);
        }
        catch (RecipeValueException e)
        {
            throw new TaskDiagnosticException(e.Problem == RecipeValueProblem.BadNumber ? TaskCodes.BadNumber : TaskCodes.UnknownValue,
                $"CompressModel '{Name}': {e.Cause}", e.Remedy, item.ItemSpec);
        }
    }
}
