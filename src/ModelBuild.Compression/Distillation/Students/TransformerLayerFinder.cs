using ModelBuild.Compression.Structure;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// Recognizes transformer encoder layers from the graph's structure, not from names: a residual block holding
/// self-attention (activation x activation MatMul -> [scale/mask] -> Softmax -> activation x activation MatMul,
/// then a weighted output projection), followed by a residual block holding a feed-forward network (two or more
/// weighted MatMul/Gemm). Pre-norm and post-norm layers both work: a layer starts at the tensor its attention block
/// reads as the skip connection, so the next layer's start is this layer's end whatever norms sit in between.
/// </summary>
public static class TransformerLayerFinder
{
    static readonly HashSet<string> Transparent = new(StringComparer.Ordinal) { "Div", "Mul", "Add", "Sub", "Where", "Cast", "Dropout", "Identity", "Reshape", "Transpose" };

    public static LayerRun? Find(ModelProto model)
    {
        var graph = new OnnxGraph(model.Graph);
        var initializers = model.Graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var blocks = ResidualBlockFinder.FindBlocks(model);
        var starts = new List<string>();
        var signatures = new List<string>();
        string? lastOutput = null;
        for (int i = 0; i + 1 < blocks.Count; i++)
        {
            if (!IsSelfAttention(graph, blocks[i], initializers) || !IsFeedForward(blocks[i + 1], initializers)) continue;
            starts.Add(blocks[i].Input);
            signatures.Add(Signature(blocks[i], model) + "|" + Signature(blocks[i + 1], model));
            lastOutput = blocks[i + 1].Output;
            i++;
        }
        if (starts.Count == 0) return null;
        // Depth only repeats identical layers; a stack of different layers is not one run.
        if (signatures.Distinct().Count() != 1) return null;
        return new LayerRun("transformer encoder layer", starts, lastOutput!);
    }

    /// <summary>QK^T -> Softmax -> probabilities x V inside the block, and a weighted projection after it.</summary>
    static bool IsSelfAttention(OnnxGraph graph, ResidualBlock block, HashSet<string> initializers)
    {
        var inside = block.Nodes.ToHashSet();
        foreach (var softmax in block.Nodes.Where(n => n.OpType == "Softmax"))
        {
            bool scores = Upstream(graph, softmax.Input[0], inside, 6).Any(n => n.OpType == "MatMul" && IsActivationProduct(n, initializers));
            var context = Downstream(graph, softmax.Output[0], inside, 3).FirstOrDefault(n => n.OpType == "MatMul" && IsActivationProduct(n, initializers));
            if (!scores || context is null) continue;
            bool projected = Downstream(graph, context.Output[0], inside, 6).Any(n => n.OpType is "MatMul" or "Gemm" && n.Input.Skip(1).Any(initializers.Contains));
            if (projected) return true;
        }
        return false;
    }

    static bool IsFeedForward(ResidualBlock block, HashSet<string> initializers) =>
        !block.HasAttention && block.Nodes.Count(n => n.OpType is "MatMul" or "Gemm" && n.Input.Count > 1 && initializers.Contains(n.Input[1])) >= 2;

    static bool IsActivationProduct(NodeProto n, HashSet<string> initializers) => !initializers.Contains(n.Input[0]) && !initializers.Contains(n.Input[1]);

    static IEnumerable<NodeProto> Upstream(OnnxGraph graph, string tensor, HashSet<NodeProto> inside, int depth)
    {
        var producer = graph.GetProducer(tensor);
        if (producer is null || !inside.Contains(producer) || depth == 0) yield break;
        yield return producer;
        if (!Transparent.Contains(producer.OpType)) yield break;
        foreach (var input in producer.Input)
            foreach (var n in Upstream(graph, input, inside, depth - 1)) yield return n;
    }

    static IEnumerable<NodeProto> Downstream(OnnxGraph graph, string tensor, HashSet<NodeProto> inside, int depth)
    {
        if (depth == 0) yield break;
        foreach (var consumer in graph.GetConsumers(tensor).Where(inside.Contains))
        {
            yield return consumer;
            if (!Transparent.Contains(consumer.OpType)) continue;
            foreach (var n in Downstream(graph, consumer.Output[0], inside, depth - 1)) yield return n;
        }
    }

    /// <summary>Operator sequence and weight shapes: equal for layers that are copies of each other.</summary>
    internal static string Signature(ResidualBlock block, ModelProto model)
    {
        var dims = model.Graph.Initializer.ToDictionary(i => i.Name, i => string.Join("x", i.Dims), StringComparer.Ordinal);
        return string.Join(",", block.Nodes.Select(n => n.OpType + "(" + string.Join(";", n.Input.Where(dims.ContainsKey).Select(i => dims[i])) + ")"));
    }
}
