using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// Consecutive, structurally identical layers that each map a tensor to one of the same shape (transformer encoder
/// layers, same-shape residual blocks, same-shape Conv blocks). <see cref="Inputs"/>[i] is layer i's input, so layer
/// i's output is <see cref="Inputs"/>[i + 1] and the last layer's output is <see cref="LastOutput"/>.
/// </summary>
public sealed record LayerRun(string Kind, IReadOnlyList<string> Inputs, string LastOutput)
{
    public int Count => Inputs.Count;

    /// <summary>
    /// Keeps the last <paramref name="keep"/> layers: readers of the first kept layer's input read the run's input
    /// instead, and the dropped layers' nodes and weights, now unread, are removed. The kept layers are the same
    /// structure as the dropped ones, and a derived student is freshly initialized, so which ones stay only matters
    /// for keeping every boundary tensor well defined (the run's end may be followed by a norm or pooling).
    /// </summary>
    internal void KeepLast(ModelProto model, int keep)
    {
        if (keep >= Count) return;
        var graph = new OnnxGraph(model.Graph);
        graph.ReplaceAllUses(Inputs[Count - keep], Inputs[0]);
        graph.Invalidate();
        graph.RemoveUnusedNodesAndInitializers();
    }

    public override string ToString() => $"{Count} x {Kind}";
}
