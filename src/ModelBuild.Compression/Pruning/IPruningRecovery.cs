using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Restores accuracy after a pruning step. The schedule calls it with the pruned model (its current weights
/// are the starting point) and the step number; it returns the recovered model with the same graph.
/// </summary>
public interface IPruningRecovery
{
    string Description { get; }

    OnnxModel Recover(OnnxModel pruned, int step);

    /// <summary>Class scores the last <see cref="Recover"/> call revived on the way (one line per epoch), for the step's report.</summary>
    IReadOnlyList<string> LastRevivedOutputs => [];
}
