using System.Globalization;
using System.Text.Json.Nodes;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.StageContract;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// The prune stage: <see cref="PruningSchedule"/> over the stage's input (the teacher, or the distilled student),
/// structured by default, reaching <c>Prune</c> in <c>PruneSteps</c> steps. With training data (or <c>Synthetic</c>)
/// each step is followed by <see cref="DistillationRecovery"/> from the recipe's original teacher, using the
/// distillation settings (epochs, batch size, learning rate, temperature, alpha).
/// </summary>
public sealed class PruneStage : ICompressionStage
{
    public string Name => "prune";
    public int Order => 200;

    public bool IsRequested(CompressionRecipe recipe) => recipe.Prune is not null and not 0;

    public StageOutcome Run(CompressionContext context)
    {
        var r = context.Recipe;
        var input = OnnxModel.Load(context.CurrentModel);
        ControlFlowRefusal.Check(input.Proto.Graph, context.CurrentModel);
        var recovery = r.TrainingData is null ? null : new DistillationRecovery(r.Teacher, r.TrainingData, r.TrainingLabels, RecoveryTraining(r, context.Threads));
        if (recovery is null)
            context.Log.Progress("prune: no --train-data, so no recovery training after pruning (accuracy may drop)");
        var options = new PruningScheduleOptions
        {
            Pruning = new PruningOptions { Fraction = r.Prune!.Value, Exclude = r.PruneExclude ?? [] },
            Mode = ParseMode(r.PruneMode),
            Steps = r.PruneSteps ?? 1,
            Recovery = recovery,
            // The evaluation set the pipeline read once for the run (every input by name), not a second read of the files.
            Evaluator = context.Evaluator,
            // Per-step latency is report detail; the pipeline times every stage's output side by side anyway.
            LatencyRuns = context.LatencyRuns > 0 ? 200 : 0,
        };
        context.Log.Progress(string.Create(CultureInfo.InvariantCulture,
            $"prune: {options.Mode.ToString().ToLowerInvariant()} {r.Prune:0.###} in {options.Steps} step(s), recovery: {recovery?.Description ?? "none"}"));
        var result = PruningSchedule.Run(input, options);
        foreach (var step in result.Steps.Skip(1))
            context.Log.Progress(string.Create(CultureInfo.InvariantCulture,
                $"prune: step {step.Step}: {step.Fraction:P0}, {step.Parameters:N0} parameters{(step.Accuracy is { } a ? $", accuracy {a:0.00}%" : "")}"));
        var output = context.WorkPath("prune.onnx");
        result.Model.Save(output);
        return new StageOutcome(output, result.ToJson());
    }

    /// <summary>
    /// Besides the recipe settings the schema gives the prune stage: the threads, whether latency is measured, and the
    /// original teacher when it is the recovery's teacher.
    /// </summary>
    public StageCacheInputs CacheInputs(CompressionContext context) =>
        new(new { context.Threads, LatencyRuns = context.LatencyRuns > 0 }, [context.Recipe.TrainingData is not null ? context.Recipe.Teacher : null]);

    public static RecoveryTraining RecoveryTraining(CompressionRecipe r, int threads)
    {
        var defaults = new RecoveryTraining();
        return new RecoveryTraining
        {
            Epochs = r.Epochs ?? defaults.Epochs,
            BatchSize = r.BatchSize ?? defaults.BatchSize,
            LearningRate = r.LearningRate ?? defaults.LearningRate,
            Temperature = r.Temperature ?? defaults.Temperature,
            Alpha = r.Alpha ?? defaults.Alpha,
            Synthetic = r.Synthetic,
            Threads = threads,
            Seed = r.Seed,
            DataOptions = Data.DataReadOptions.FromRecipe(r, r.Teacher),
        };
    }

    private static PruningMode ParseMode(string? mode) => mode?.Trim().ToLowerInvariant() switch
    {
        null or "" or "structured" => PruningMode.Structured,
        "unstructured" => PruningMode.Unstructured,
        _ => throw new InvalidOperationException($"Unknown prune mode '{mode}' (the pipeline validates it first)."),
    };
}
