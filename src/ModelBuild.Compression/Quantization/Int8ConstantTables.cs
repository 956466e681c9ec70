using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Int8 storage for the large float constants no quantizable node reads as a weight: a transformer's learned
/// position table ([1, S, H], added to the embeddings and, after the sequence trim, read by a Slice) is the usual one,
/// about 8 KB of a 78 KB int8 student. Each is stored int8 with one scale per row of its last axis and rebuilt as Cast +
/// Mul on initializers, which ONNX Runtime folds when the session loads (as <see cref="Int8WeightStorage"/>'s
/// weights): the kernels and their speed are float's, only the file shrinks.
/// </summary>
internal static class Int8ConstantTables
{
    /// <summary>Below this many elements a constant (a LayerNorm gamma, a bias, a shape) is not worth a Cast + Mul.</summary>
    public const int MinimumElements = 1024;

    /// <summary>
    /// Rewrites every qualifying float initializer of <paramref name="graph"/> that main-graph nodes read (never one a
    /// subgraph body or a graph output reads by name, nor one in <paramref name="keep"/>); the Cast + Mul go to
    /// <paramref name="prologue"/>. Returns the rewritten initializers' names, in graph order.
    /// </summary>
    public static List<string> Store(GraphProto graph, QdqGraphWriter writer, List<NodeProto> prologue, IReadOnlySet<string>? keep = null)
    {
        // Left alone: graph outputs, names a body reads, graph inputs (IR < 4 lets an input override an initializer),
        // the weights of recurrent cells (they stay float when a form does not reach them, and the report says so).
        var readByName = graph.Output.Select(o => o.Name).Concat(BodyReads(graph)).Concat(graph.Input.Select(i => i.Name))
            .Concat(graph.Node.Where(n => n.OpType is "LSTM" or "GRU" or "RNN").SelectMany(n => n.Input))
            .Concat(keep ?? new HashSet<string>()).ToHashSet(StringComparer.Ordinal);
        var readers = graph.Node.SelectMany(n => n.Input.Select((name, i) => (Node: n, Name: name, Index: i)))
            .ToLookup(r => r.Name, StringComparer.Ordinal);
        var stored = new List<string>();
        foreach (var tensor in graph.Initializer.ToList())
        {
            if (!OnnxModelAccess.IsFloat(tensor) || tensor.Dims.Count < 2 || OnnxModelAccess.ElementCount(tensor) < MinimumElements
                || readByName.Contains(tensor.Name) || !readers[tensor.Name].Any())
                continue;
            var floats = OnnxModelAccess.ReadFloats(tensor);
            // A table holding inf or NaN (a causal mask's -inf) has no finite scale: int8 would rebuild NaN.
            if (!floats.All(float.IsFinite)) continue;
            var dims = OnnxModelAccess.Dims(tensor);
            // One scale per row of the last axis: a position's (or a vocabulary entry's) vector keeps its own range.
            var axis = dims.Length - 2;
            var (values, p) = QuantizationMath.Int8WeightsSymmetric(floats, dims, axis);
            var scaleDims = dims.Select((d, i) => i == axis ? d : 1L).ToArray();
            var int8 = writer.AddInitializer(OnnxModelAccess.Int8Tensor(tensor.Name + "_quantized", values, dims));
            var scale = writer.AddInitializer(OnnxModelAccess.FloatTensor(tensor.Name + "_scale", p.Scales, scaleDims));
            var asFloat = writer.Unique(tensor.Name + "_int8_as_float");
            var rebuilt = writer.Unique(tensor.Name + "_rebuilt");
            var cast = OnnxModelAccess.Node("Cast", writer.Unique(tensor.Name + "_Cast"), [int8], [asFloat]);
            cast.Attribute.Add(OnnxModelAccess.IntAttribute("to", (int)TensorProto.Types.DataType.Float));
            prologue.Add(cast);
            prologue.Add(OnnxModelAccess.Node("Mul", writer.Unique(tensor.Name + "_ScaleMul"), [asFloat, scale], [rebuilt]));
            foreach (var (node, _, index) in readers[tensor.Name]) node.Input[index] = rebuilt;
            stored.Add(tensor.Name);
        }
        return stored;
    }

    /// <summary>Every name an If/Loop/Scan body (at any depth) reads: such a body may read an outer initializer by name.</summary>
    static IEnumerable<string> BodyReads(GraphProto graph) =>
        ModelBuild.Onnx.Graph.GraphTraversal.Bodies(graph).SelectMany(ModelBuild.Onnx.Graph.GraphTraversal.AllNodes).SelectMany(n => n.Input);
}
