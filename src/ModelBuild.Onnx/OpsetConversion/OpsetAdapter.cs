using Onnx;

namespace ModelBuild.Onnx.OpsetConversion;

/// <summary>
/// One operator rewrite of the version converter, as ONNX's <c>version_converter/adapters</c>: the operators it applies
/// to and the opset at which their meaning or form changed. It runs on a node when the model's opset is below
/// <see cref="ChangedAt"/> and the target is at or above it, and returns the nodes that mean the same at
/// <see cref="ChangedAt"/> (the node itself, edited, may be among them).
/// </summary>
public abstract class OpsetAdapter(int changedAt, IReadOnlyList<string> opTypes)
{
    public IReadOnlyList<string> OpTypes { get; } = opTypes;

    /// <summary>The first opset at which the old form is no longer valid or no longer means the same.</summary>
    public int ChangedAt { get; } = changedAt;

    /// <summary>The replacement nodes; call <see cref="OpsetRewriteContext.Refuse"/> when the node has no faithful rewrite.</summary>
    public abstract IReadOnlyList<NodeProto> Rewrite(NodeProto node, OpsetRewriteContext context);
}
