using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Quantization;

public enum QuantizableKind { Conv, Gemm, MatMulWeight, MatMulActivations, GatherEmbedding }

/// <summary>
/// A node a quantizer can rewrite, with the facts every quantizer needs: which input is the float weight
/// initializer and along which axis its output channels run, which inputs are activations, where the bias is.
/// </summary>
public sealed record QuantizableNode(NodeProto Node, QuantizableKind Kind, int? WeightInput, int? ChannelAxis, int[] ActivationInputs, int? BiasInput)
{
    public string Name => Node.Name;
    public string? WeightName => WeightInput is { } i ? Node.Input[i] : null;

    /// <summary>The MatMul/Gemm/Gather nodes with a float weight that the dynamic int8 and int4 forms rewrite, keyed by node identity.</summary>
    public static Dictionary<object, QuantizableNode> FindWeightedMatMuls(GraphProto graph, IReadOnlySet<string> excluded) =>
        Find(graph)
            .Where(n => !excluded.Contains(n.Name) && n.Kind is QuantizableKind.MatMulWeight or QuantizableKind.Gemm or QuantizableKind.GatherEmbedding)
            .ToDictionary(n => (object)n.Node, ReferenceEqualityComparer.Instance);

    /// <summary>
    /// <see cref="Find"/> on the graph and on every If/Loop/Scan body in it (nested ones too), main graph first: what
    /// the forms that enter bodies (<see cref="SubgraphQuantization"/>) can rewrite.
    /// </summary>
    public static List<QuantizableNode> FindWithBodies(GraphProto graph) =>
        GraphTraversal.AllGraphs(graph).SelectMany(Find).ToList();

    /// <summary>Finds the nodes of the kinds quantization understands, in graph order.</summary>
    public static List<QuantizableNode> Find(GraphProto graph)
    {
        var initializers = OnnxModelAccess.Initializers(graph);
        bool IsFloatWeight(string name, int rank) => initializers.TryGetValue(name, out var t) && OnnxModelAccess.IsFloat(t) && t.Dims.Count == rank;
        bool IsActivation(string name) => name.Length > 0 && !initializers.ContainsKey(name);
        var found = new List<QuantizableNode>();
        foreach (var node in graph.Node)
        {
            if (node.Domain is not ("" or "ai.onnx")) continue;
            switch (node.OpType)
            {
                case "Conv" when node.Input.Count >= 2 && IsActivation(node.Input[0]) && initializers.TryGetValue(node.Input[1], out var w)
                                 && OnnxModelAccess.IsFloat(w) && w.Dims.Count >= 3:
                    found.Add(new(node, QuantizableKind.Conv, 1, 0, [0], node.Input.Count > 2 && initializers.ContainsKey(node.Input[2]) ? 2 : null));
                    break;
                case "Gemm" when node.Input.Count >= 2 && IsActivation(node.Input[0]) && IsFloatWeight(node.Input[1], 2)
                                 && OnnxModelAccess.GetInt(node, "transA", 0) == 0
                                 && (OnnxModelAccess.GetFloat(node, "alpha") ?? 1f) == 1f
                                 && (node.Input.Count < 3 || (OnnxModelAccess.GetFloat(node, "beta") ?? 1f) == 1f):
                {
                    var transB = OnnxModelAccess.GetInt(node, "transB", 0) == 1;
                    var n = initializers[node.Input[1]].Dims[transB ? 0 : 1];
                    var hasBias = node.Input.Count > 2 && initializers.TryGetValue(node.Input[2], out var c) && OnnxModelAccess.ElementCount(c) == n && OnnxModelAccess.IsFloat(c);
                    found.Add(new(node, QuantizableKind.Gemm, 1, transB ? 0 : 1, [0], hasBias ? 2 : null));
                    break;
                }
                case "MatMul" when node.Input.Count == 2 && IsActivation(node.Input[0]) && IsFloatWeight(node.Input[1], 2):
                    found.Add(new(node, QuantizableKind.MatMulWeight, 1, 1, [0], null));
                    break;
                case "MatMul" when node.Input.Count == 2 && IsActivation(node.Input[0]) && IsActivation(node.Input[1]):
                    found.Add(new(node, QuantizableKind.MatMulActivations, null, null, [0, 1], null));
                    break;
                case "Gather" when node.Input.Count == 2 && IsFloatWeight(node.Input[0], 2) && OnnxModelAccess.GetInt(node, "axis", 0) == 0:
                    found.Add(new(node, QuantizableKind.GatherEmbedding, 0, null, [], null));
                    break;
            }
        }
        return found;
    }
}
