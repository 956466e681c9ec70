namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Figures after one pruning step (step 0 is the unpruned model): size, batch-1 FLOPs, latency, accuracy
/// before and after recovery, and what was pruned.
/// </summary>
public sealed record PruningStepReport
{
    public required int Step { get; init; }
    /// <summary>Fraction of the original units removed so far (0 for step 0).</summary>
    public required double Fraction { get; init; }
    public required long Parameters { get; init; }
    /// <summary>Parameters that are not zero (differs from <see cref="Parameters"/> after unstructured pruning).</summary>
    public required long NonZeroParameters { get; init; }
    public required long Flops { get; init; }
    public required long Bytes { get; init; }
    /// <summary>Size of the ONNX file after deflate (what unstructured zeros buy).</summary>
    public required long CompressedBytes { get; init; }
    public double? LatencyMicroseconds { get; init; }
    public double? AccuracyBeforeRecovery { get; init; }
    public double? Accuracy { get; init; }
    public double RecoverySeconds { get; init; }
    /// <summary>Class scores the recovery run revived (<see cref="Distillation.Students.DeadOutputRepair"/>); empty when none was dead.</summary>
    public IReadOnlyList<string> RevivedOutputs { get; init; } = [];
    public IReadOnlyList<PrunedGroupReport> Groups { get; init; } = Array.Empty<PrunedGroupReport>();
}
