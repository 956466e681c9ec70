using System.Text.Json.Nodes;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.StageContract;

/// <summary>
/// One technique in the pipeline (distill, prune, quantize). A stage reads <see cref="CompressionContext.CurrentModel"/>,
/// writes its result into the work folder and returns its path; the pipeline measures the figures after it.
/// </summary>
public interface ICompressionStage
{
    /// <summary>Short name used in the report and progress lines: distill, prune, quantize.</summary>
    string Name { get; }

    /// <summary>Position in the pipeline; stages run in ascending order (distill 100, prune 200, quantize 300).</summary>
    int Order { get; }

    bool IsRequested(CompressionRecipe recipe);

    StageOutcome Run(CompressionContext context);

    /// <summary>
    /// What decides this stage's output besides its input model and the recipe settings <see cref="RecipeSchema"/>
    /// marks as used by it (those are added by <see cref="StageCacheInputs.WithRecipe"/>): values of the run (threads,
    /// latency runs) and files the recipe does not name. The per-stage cache (<see cref="Pipeline.StageCache"/>) keys on both;
    /// null means the stage is never cached.
    /// </summary>
    StageCacheInputs? CacheInputs(CompressionContext context) => null;
}

/// <summary>
/// A stage's cache inputs: <paramref name="Settings"/> is serialized to JSON (so only values that change the output
/// belong in it), <paramref name="Files"/> are hashed by content (null entries stand for "not given").
/// </summary>
public sealed record StageCacheInputs(object Settings, IReadOnlyList<string?> Files)
{
    /// <summary>
    /// <paramref name="own"/> plus the recipe's part from the schema: the values of the settings <paramref name="stage"/>
    /// uses and the files it reads (with the tokenizer_config.json beside a vocab.txt when it reads the tokenizer).
    /// </summary>
    public static StageCacheInputs WithRecipe(string stage, CompressionRecipe recipe, StageCacheInputs own)
    {
        var (settings, files) = RecipeSchema.StageInputs(stage, recipe);
        if (RecipeSchema.Get(nameof(CompressionRecipe.Tokenizer)).UsedBy.Contains(stage))
            files.Add(Data.Text.TextDataFiles.ConfigBeside(recipe.Tokenizer));
        return new StageCacheInputs(new { Recipe = settings, Stage = own.Settings }, [.. files, .. own.Files]);
    }
}

/// <summary>
/// What a stage produced: the new model path (may equal the input when it changed nothing), technique details for
/// the report, and optionally figures it already measured (so the pipeline does not measure twice).
/// <paramref name="NotApplicable"/>: a stage that runs by default found nothing to do (the optimize stage on a model
/// without fusable patterns); the pipeline then leaves it out of the report.
/// </summary>
public sealed record StageOutcome(string ModelPath, JsonObject? Details = null, ModelFigures? Figures = null, bool NotApplicable = false);
