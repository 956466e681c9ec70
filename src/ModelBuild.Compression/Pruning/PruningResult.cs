using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>One group after pruning: how many units it had and kept.</summary>
public sealed record PrunedGroupReport(string Name, PruningUnitKind Kind, int UnitsBefore, int UnitsAfter, int UnitSize, IReadOnlyList<string> Nodes, IReadOnlyList<int> RemovedUnits);

/// <summary>A group that was found but not pruned, and why (cannot be rewritten, excluded, kind not selected).</summary>
public sealed record SkippedGroupReport(string Name, PruningUnitKind Kind, int Units, string Reason);

/// <summary>
/// The outcome of one pruning pass, structured (<see cref="PruningResult"/>) or depth (<see cref="DepthPruningResult"/>):
/// the model, its size and batch-1 FLOPs before and after, and the warnings.
/// </summary>
public abstract class PruningPassResult
{
    public required OnnxModel Model { get; init; }
    public required long ParametersBefore { get; init; }
    public required long ParametersAfter { get; init; }
    public required long FlopsBefore { get; init; }
    public required long FlopsAfter { get; init; }
    public List<string> Warnings { get; } = new();

    /// <summary>Whether the pass removed anything.</summary>
    public abstract bool Changed { get; }
}

/// <summary>The outcome of one structured pruning pass.</summary>
public sealed class PruningResult : PruningPassResult
{
    public required string Criterion { get; init; }
    public List<PrunedGroupReport> Pruned { get; } = new();
    public List<SkippedGroupReport> Skipped { get; } = new();

    public override bool Changed => Pruned.Any(g => g.UnitsAfter < g.UnitsBefore);

    /// <summary>The groups (built on the normalized input) and the unit indices removed from each.</summary>
    internal IReadOnlyList<(PruningGroup Group, IReadOnlyCollection<int> RemovedUnits)> Plan { get; init; } = Array.Empty<(PruningGroup, IReadOnlyCollection<int>)>();
}
