using System.Globalization;
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
    /// <summary>Metadata that name files: checked for existence and hashed into the cache key.</summary>
    public static readonly string[] FileMetadata =
        ["CalibrationData", "Student", "TrainingData", "TrainingLabels", "EvaluationData", "EvaluationLabels", "Tokenizer", "Labels", "Recipe"];

    public static readonly string[] QuantizeWords = ["none", "int8-dynamic", "int8-static", "int8-weights", "int4-weight", "fp16", "auto"];
    public static readonly string[] CalibrationMethodWords = ["minmax", "percentile", "entropy"];
    public static readonly string[] PruneModeWords = ["structured", "unstructured"];
    public static readonly string[] LossWords = ["response", "feature", "relation"];
    public static readonly string[] ImageScaleWords = ["0..1", "0..255"];

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
        var recipe = LoadRecipeFile() ?? new CompressionRecipe();
        recipe.Teacher = RequireFile(item.ItemSpec, null, projectDirectory);

        if (Meta("Quantize") is { } quantize) recipe.Quantize = Word("Quantize", quantize, QuantizeWords);
        else recipe.Quantize = Word("Quantize", recipe.Quantize, QuantizeWords);
        if (Meta("CalibrationData") is { } calibration) recipe.CalibrationData = RequireData(calibration, "CalibrationData", projectDirectory);
        if (Meta("CalibrationMethod") is { } method) recipe.CalibrationMethod = Word("CalibrationMethod", method, CalibrationMethodWords);

        if (Meta("Prune") is { } prune) recipe.Prune = Number("Prune", prune, 0, 1, maxInclusive: false);
        if (Meta("PruneMode") is { } pruneMode) recipe.PruneMode = Word("PruneMode", pruneMode, PruneModeWords);
        if (Meta("PruneSteps") is { } pruneSteps) recipe.PruneSteps = Integer("PruneSteps", pruneSteps, 1);
        if (Meta("PruneExclude") is { } pruneExclude)
            recipe.PruneExclude = pruneExclude.Split([';', ','], StringSplitOptions.RemoveEmptyEntries).Select(p => p.Trim()).Where(p => p.Length > 0).ToList();

        if (Meta("Distill") is { } distill) recipe.Distill = Bool("Distill", distill);
        if (Meta("Student") is { } student) recipe.Student = RequireFile(student, "Student", projectDirectory);
        if (Meta("StudentWidth") is { } width) recipe.StudentWidth = Number("StudentWidth", width, 0, 1, minInclusive: false);
        if (Meta("StudentDepth") is { } depth) recipe.StudentDepth = Number("StudentDepth", depth, 0, 1, minInclusive: false);
        if (Meta("StudentFfnWidth") is { } ffnWidth) recipe.StudentFfnWidth = Number("StudentFfnWidth", ffnWidth, 0, 1, minInclusive: false);
        if (Meta("TrainingData") is { } train) recipe.TrainingData = RequireData(train, "TrainingData", projectDirectory);
        if (Meta("TrainingLabels") is { } trainLabels) recipe.TrainingLabels = RequireFile(trainLabels, "TrainingLabels", projectDirectory);
        if (Meta("Epochs") is { } epochs) recipe.Epochs = Integer("Epochs", epochs, 1);
        if (Meta("BatchSize") is { } batch) recipe.BatchSize = Integer("BatchSize", batch, 1);
        if (Meta("LearningRate") is { } rate) recipe.LearningRate = Number("LearningRate", rate, 0, double.MaxValue, minInclusive: false);
        if (Meta("Temperature") is { } temperature) recipe.Temperature = Number("Temperature", temperature, 0, double.MaxValue, minInclusive: false);
        if (Meta("Alpha") is { } alpha) recipe.Alpha = Number("Alpha", alpha, 0, 1);
        if (Meta("Reinitialize") is { } reinitialize) recipe.Reinitialize = Bool("Reinitialize", reinitialize);
        if (Meta("Loss") is { } loss) recipe.Loss = Word("Loss", loss, LossWords);
        if (Meta("FeaturePairs") is { } featurePairs) recipe.FeaturePairs = featurePairs;
        if (Meta("Dropout") is { } dropout) recipe.Dropout = Number("Dropout", dropout, 0, 1, maxInclusive: false);
        if (Meta("QuantizationAware") is { } quantizationAware) recipe.QuantizationAware = Bool("QuantizationAware", quantizationAware);
        if (Meta("Synthetic") is { } synthetic) recipe.Synthetic = Integer("Synthetic", synthetic, 1);

        if (Meta("EvaluationData") is { } evalData) recipe.EvaluationData = RequireData(evalData, "EvaluationData", projectDirectory);
        if (Meta("EvaluationLabels") is { } evalLabels) recipe.EvaluationLabels = RequireFile(evalLabels, "EvaluationLabels", projectDirectory);
        if (Meta("LabelColumn") is { } labelColumn) recipe.LabelColumn = labelColumn;
        if (Meta("MetricOutput") is { } metricOutput) recipe.MetricOutput = metricOutput;
        if (Meta("ImageScale") is { } imageScale) recipe.ImageScale = Word("ImageScale", imageScale, ImageScaleWords);
        if (Meta("ImageMean") is { } imageMean) recipe.ImageMean = Numbers("ImageMean", imageMean, positive: false);
        if (Meta("ImageStd") is { } imageStd) recipe.ImageStd = Numbers("ImageStd", imageStd, positive: true);
        if (Meta("PadId") is { } padId) recipe.PadId = Integer("PadId", padId, 0);
        if (Meta("Tokenizer") is { } tokenizer) recipe.Tokenizer = RequireFile(tokenizer, "Tokenizer", projectDirectory);
        if (Meta("TextColumn") is { } textColumn) recipe.TextColumn = textColumn;
        if (Meta("MaxLength") is { } maxLength) recipe.MaxLength = Integer("MaxLength", maxLength, 1);
        if (Meta("Labels") is { } labels) recipe.Labels = RequireFile(labels, "Labels", projectDirectory);
        if (Meta("MaxAccuracyDrop") is { } drop) recipe.MaxAccuracyDrop = Number("MaxAccuracyDrop", drop, 0, 100);
        if (Meta("MinAgreement") is { } agreement) recipe.MinAgreement = Number("MinAgreement", agreement, 0, 100);
        if (Meta("MaxLatencyMicroseconds") is { } latency) recipe.MaxLatencyMicroseconds = Number("MaxLatencyMicroseconds", latency, 0, double.MaxValue, minInclusive: false);
        if (Meta("Force") is { } force) recipe.Force = Bool("Force", force);
        if (Meta("Seed") is { } seed) recipe.Seed = Integer("Seed", seed, int.MinValue);
        if (Meta("Threads") is { } threads) recipe.Threads = Integer("Threads", threads, 1);

        if ((recipe.MaxAccuracyDrop is not null || recipe.MinAgreement is not null) && recipe.EvaluationData is null)
        {
            throw new TaskDiagnosticException(TaskCodes.MissingFile,
                $"CompressModel '{Name}': {(recipe.MaxAccuracyDrop is not null ? "MaxAccuracyDrop" : "MinAgreement")} is set but EvaluationData is not, so the gate cannot be measured.",
                "Add EvaluationData (and EvaluationLabels for accuracy) to the item, or remove the gate.", item.ItemSpec);
        }
        return recipe;
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
        string? Resolve(string? value, string field) => value is null ? null : RequireFile(value, $"Recipe:{field}", baseDirectory);
        string? ResolveData(string? value, string field) => value is null ? null : RequireData(value, $"Recipe:{field}", baseDirectory);
        recipe.CalibrationData = ResolveData(recipe.CalibrationData, "calibrationData");
        recipe.Student = Resolve(recipe.Student, "student");
        recipe.TrainingData = ResolveData(recipe.TrainingData, "trainingData");
        recipe.TrainingLabels = Resolve(recipe.TrainingLabels, "trainingLabels");
        recipe.EvaluationData = ResolveData(recipe.EvaluationData, "evaluationData");
        recipe.EvaluationLabels = Resolve(recipe.EvaluationLabels, "evaluationLabels");
        recipe.Tokenizer = Resolve(recipe.Tokenizer, "tokenizer");
        recipe.Labels = Resolve(recipe.Labels, "labels");
        if (recipe.CalibrationMethod is not null) recipe.CalibrationMethod = Word("Recipe:calibrationMethod", recipe.CalibrationMethod, CalibrationMethodWords);
        if (recipe.PruneMode is not null) recipe.PruneMode = Word("Recipe:pruneMode", recipe.PruneMode, PruneModeWords);
        if (recipe.Loss is not null) recipe.Loss = Word("Recipe:loss", recipe.Loss, LossWords);
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

    /// <summary>1 or 3 numbers separated by ';' or ',' (MSBuild lists use ';').</summary>
    private List<double> Numbers(string metadata, string value, bool positive)
    {
        var parts = value.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var numbers = new List<double>();
        foreach (var part in parts)
        {
            if (double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) && (!positive || number > 0))
                numbers.Add(number);
        }
        if (numbers.Count == parts.Length && numbers.Count is 1 or 3) return numbers;
        throw new TaskDiagnosticException(TaskCodes.BadNumber,
            $"CompressModel '{Name}': {metadata}='{value}' is not 1 or 3 {(positive ? "positive " : "")}numbers.",
            $"Set {metadata} to one value or one per channel, e.g. 0.485;0.456;0.406, with a '.' decimal point.", item.ItemSpec);
    }

    private string Word(string metadata, string value, string[] words)
    {
        static string Squash(string s) => s.Replace("-", "").Replace("_", "").ToLowerInvariant();
        var match = words.FirstOrDefault(w => Squash(w) == Squash(value));
        return match ?? throw new TaskDiagnosticException(TaskCodes.UnknownValue,
            $"CompressModel '{Name}': {metadata}='{value}' is not one of {string.Join(", ", words)}.",
            $"Set {metadata} to one of {string.Join(", ", words)} (case-insensitive).", item.ItemSpec);
    }

    private bool Bool(string metadata, string value) => value.ToLowerInvariant() switch
    {
        "true" => true,
        "false" => false,
        _ => throw new TaskDiagnosticException(TaskCodes.UnknownValue,
            $"CompressModel '{Name}': {metadata}='{value}' is not true or false.", $"Set {metadata} to true or false.", item.ItemSpec),
    };

    private double Number(string metadata, string value, double min, double max, bool minInclusive = true, bool maxInclusive = true)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)
            && (minInclusive ? number >= min : number > min) && (maxInclusive ? number <= max : number < max))
        {
            return number;
        }
        var range = $"{(minInclusive ? "[" : "(")}{min.ToString(CultureInfo.InvariantCulture)}, "
            + $"{(max == double.MaxValue ? "inf" : max.ToString(CultureInfo.InvariantCulture))}{(maxInclusive ? "]" : ")")}";
        throw new TaskDiagnosticException(TaskCodes.BadNumber,
            $"CompressModel '{Name}': {metadata}='{value}' is not a number in {range}.",
            $"Set {metadata} to a number in {range}, written with a '.' decimal point.", item.ItemSpec);
    }

    private int Integer(string metadata, string value, int min)
    {
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) && number >= min) return number;
        throw new TaskDiagnosticException(TaskCodes.BadNumber,
            $"CompressModel '{Name}': {metadata}='{value}' is not a whole number >= {min}.",
            $"Set {metadata} to a whole number >= {min}.", item.ItemSpec);
    }
}
