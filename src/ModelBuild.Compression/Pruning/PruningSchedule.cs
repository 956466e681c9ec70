using System.Diagnostics;
using System.IO.Compression;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Pruning;

public enum PruningMode
{
    /// <summary>Remove whole neurons, channels and heads: the graph gets smaller and faster.</summary>
    Structured,
    /// <summary>Zero individual weights: smaller only once compressed; no CPU speed-up.</summary>
    Unstructured,
}

/// <summary>The schedule: reach <c>Pruning.Fraction</c> in <see cref="Steps"/> equal steps, each followed by recovery.</summary>
public sealed class PruningScheduleOptions
{
    /// <summary>What to prune; its <see cref="PruningOptions.Fraction"/> is the final fraction (<c>--prune</c>).</summary>
    public PruningOptions Pruning { get; init; } = new();

    public PruningMode Mode { get; init; } = PruningMode.Structured;

    /// <summary>Number of pruning steps (<c>--prune-steps</c>).</summary>
    public int Steps { get; init; } = 1;

    /// <summary>Run after each step when set (e.g. <see cref="DistillationRecovery"/>); none means prune only.</summary>
    public IPruningRecovery? Recovery { get; init; }

    /// <summary>Measures each step: accuracy when it has labels, latency when it has data (the pipeline's one evaluator).</summary>
    public ModelEvaluator? Evaluator { get; init; }

    /// <summary>Batch-1 latency runs per step (median reported); 0 skips latency.</summary>
    public int LatencyRuns { get; init; } = 200;
}

public sealed class PruningScheduleResult
{
    public required OnnxModel Model { get; init; }
    public required PruningMode Mode { get; init; }
    public string? Recovery { get; init; }
    public List<PruningStepReport> Steps { get; } = new();
    public List<SkippedGroupReport> Skipped { get; } = new();
    public List<string> Warnings { get; } = new();
    public List<string> Notes { get; } = new();

    public string ToMarkdown() => PruningReportWriter.Markdown(this);

    /// <summary>The report as JSON (for the compression report's stage details).</summary>
    public System.Text.Json.Nodes.JsonObject ToJson() => PruningReportWriter.Details(this);
}

/// <summary>
/// Iterative pruning: step k removes units so that k/S of the target fraction of each group's original
/// units is gone, then recovers (distillation from the unpruned teacher), and measures the step.
/// </summary>
public static class PruningSchedule
{
    public static PruningScheduleResult Run(OnnxModel model, PruningScheduleOptions options)
    {
        string display = model.DisplayName;
        double target = options.Pruning.Fraction;
        if (!(target > 0 && target < 1))
        {
            throw PruningErrors.Fraction(target, display);
        }
        if (options.Steps < 1 || options.Steps > 100)
        {
            throw PruningErrors.Schedule($"{options.Steps} steps", display);
        }
        var result = new PruningScheduleResult { Model = model, Mode = options.Mode, Recovery = options.Recovery?.Description };
        if (options.Mode == PruningMode.Unstructured)
        {
            result.Notes.Add(UnstructuredMagnitudePruner.LatencyNote);
        }
        result.Steps.Add(Measure(model, 0, 0, options, null, 0, Array.Empty<PrunedGroupReport>()));
        var current = model;
        var original = new Dictionary<string, int>();
        for (int step = 1; step <= options.Steps; step++)
        {
            double reached = target * step / options.Steps;
            IReadOnlyList<PrunedGroupReport> groups = Array.Empty<PrunedGroupReport>();
            if (options.Mode == PruningMode.Unstructured)
            {
                current = UnstructuredMagnitudePruner.Prune(current, reached, options.Pruning.Exclude).Model;
            }
            else
            {
                double previous = target * (step - 1) / options.Steps;
                var stepOptions = new PruningOptions
                {
                    Fraction = 1 - (1 - reached) / (1 - previous),
                    Criterion = options.Pruning.Criterion,
                    CustomCriterion = options.Pruning.CustomCriterion,
                    Kinds = options.Pruning.Kinds,
                    Exclude = options.Pruning.Exclude,
                    GlobalRanking = options.Pruning.GlobalRanking,
                    CalibrationData = options.Pruning.CalibrationData,
                    CalibrationLabels = options.Pruning.CalibrationLabels,
                    CalibrationSamples = options.Pruning.CalibrationSamples,
                    KeepUnits = step == 1 ? null : original.ToDictionary(kv => kv.Key, kv => Math.Max(1, (int)Math.Round(kv.Value * (1 - reached), MidpointRounding.AwayFromZero))),
                };
                var pruned = StructuredPruner.Prune(current, stepOptions);
                if (step == 1)
                {
                    result.Skipped.AddRange(pruned.Skipped);
                    result.Warnings.AddRange(pruned.Warnings);
                    foreach (var g in pruned.Pruned)
                    {
                        original[g.Name] = g.UnitsBefore;
                    }
                }
                if (!pruned.Changed)
                {
                    break;
                }
                current = pruned.Model;
                groups = pruned.Pruned;
            }
            double? before = options.Recovery is not null ? Accuracy(current, options) : null;
            double seconds = 0;
            IReadOnlyList<string> revived = [];
            if (options.Recovery is { } recovery)
            {
                var clock = Stopwatch.StartNew();
                current = recovery.Recover(current, step);
                seconds = clock.Elapsed.TotalSeconds;
                revived = recovery.LastRevivedOutputs;
                if (options.Mode == PruningMode.Unstructured)
                {
                    // Training moves the zeros; re-apply the mask so the step's sparsity holds.
                    current = UnstructuredMagnitudePruner.Prune(current, reached, options.Pruning.Exclude).Model;
                }
            }
            result.Steps.Add(Measure(current, step, reached, options, before, seconds, groups) with { RevivedOutputs = revived });
        }
        return new PruningScheduleResult { Model = current, Mode = result.Mode, Recovery = result.Recovery }.CopyReports(result);
    }

    private static PruningScheduleResult CopyReports(this PruningScheduleResult target, PruningScheduleResult source)
    {
        target.Steps.AddRange(source.Steps);
        target.Skipped.AddRange(source.Skipped);
        target.Warnings.AddRange(source.Warnings);
        target.Notes.AddRange(source.Notes);
        return target;
    }

    private static double? Accuracy(OnnxModel model, PruningScheduleOptions options)
    {
        return options.Evaluator is { HasData: true, HasLabels: true } evaluator ? evaluator.Evaluate(model).Accuracy : null;
    }

    private static PruningStepReport Measure(OnnxModel model, int step, double fraction, PruningScheduleOptions options,
        double? before, double seconds, IReadOnlyList<PrunedGroupReport> groups)
    {
        var proto = model.Proto.Clone();
        GraphNormalizer.Normalize(proto);
        var shapes = TensorShapeProbe.Run(proto);
        double? latency = null, accuracy = null;
        if (options.Evaluator is { HasData: true } evaluator)
        {
            latency = evaluator.Latency(model, options.LatencyRuns);
            accuracy = evaluator.HasLabels ? evaluator.Evaluate(model).Accuracy : null;
        }
        byte[] bytes = model.ToBytes();
        return new PruningStepReport
        {
            Step = step,
            Fraction = fraction,
            Parameters = model.ParameterCount,
            NonZeroParameters = NonZero(model.Proto),
            Flops = ModelCost.Flops(proto, shapes),
            Bytes = bytes.Length,
            CompressedBytes = Deflated(bytes),
            LatencyMicroseconds = latency,
            AccuracyBeforeRecovery = before,
            Accuracy = accuracy,
            RecoverySeconds = seconds,
            Groups = groups,
        };
    }

    private static long NonZero(ModelProto proto) => proto.Graph.Initializer
        .Where(t => t.DataType == (int)TensorProto.Types.DataType.Float)
        .Sum(t => (long)TensorData.ToSingleArray(t).Count(v => v != 0))
        + proto.Graph.Initializer.Where(t => t.DataType != (int)TensorProto.Types.DataType.Float).Sum(TensorData.ElementCount);

    private static long Deflated(byte[] bytes)
    {
        using var memory = new MemoryStream();
        using (var deflate = new DeflateStream(memory, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(bytes);
        }
        return memory.Length;
    }
}
