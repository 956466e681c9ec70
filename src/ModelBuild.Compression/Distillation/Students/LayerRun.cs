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
    /// The layers a run of <see cref="Count"/> keeps when it shrinks to <paramref name="keep"/>: the uniform map
    /// (DistilBERT's every other layer, TinyBERT's g(m) = m * N / M): student layer m (0-based) is teacher layer
    /// round((m + 1) * N / M) - 1, so the last layer is always kept and the kept ones are spread evenly.
    /// </summary>
    public static int[] UniformMap(int count, int keep)
    {
        keep = Math.Clamp(keep, 1, count);
        return Enumerable.Range(0, keep)
            .Select(m => (int)Math.Round((double)(m + 1) * count / keep, MidpointRounding.AwayFromZero) - 1)
            .ToArray();
    }

    /// <summary>
    /// Keeps the layers <see cref="UniformMap"/> picks, with their weights: every dropped layer's output readers read
    /// its input instead (from the last dropped layer to the first, so consecutive dropped layers chain), and the
    /// dropped layers' nodes and weights, now unread, are removed. The last layer is always kept, so the run's output
    /// tensor (which a norm or pooling may follow) stays defined. Returns the teacher layer index of each kept layer.
    /// </summary>
    internal int[] KeepUniform(ModelProto model, int keep)
    {
        var kept = UniformMap(Count, keep);
        if (kept.Length >= Count) return kept;
        var graph = new OnnxGraph(model.Graph);
        for (int layer = Count - 1; layer >= 0; layer--)
        {
            if (kept.Contains(layer)) continue;
            string output = layer + 1 < Count ? Inputs[layer + 1] : LastOutput;
            graph.ReplaceAllUses(output, Inputs[layer]);
            graph.Invalidate();
        }
        graph.RemoveUnusedNodesAndInitializers();
        return kept;
    }

    public override string ToString() => $"{Count} x {Kind}";
}
