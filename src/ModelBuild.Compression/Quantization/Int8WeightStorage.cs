using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Weight-only int8 storage: every weight the other quantizers would quantize (Conv, Gemm, MatMul, Gather tables)
/// is stored int8 with a per-channel scale and rebuilt as Cast + Mul on initializers. ONNX Runtime constant-folds
/// those two nodes when the session loads, so inference runs the original float kernels at the original speed,
/// while the file (download, package, container image) is about 4x smaller. This is the form `auto` falls back to
/// when int8 kernels are slower than float on this CPU (tiny models, where quantize/dequantize overhead dominates).
/// </summary>
public sealed class Int8WeightStorage : IQuantizationForm
{
    public const string FormName = "int8-weights";

    public string Name => FormName;
    public IReadOnlyList<string> Aliases => ["int8weights", "int8-weight"];
    public int MinimumOpset => 10;
    public bool SensitivityRepair => false;
    public bool NeedsCalibration => false;
    public bool OnlyWeightMatrices => false;
    public double BestCaseSizeRatio => 1 / 4.0;
    public int? AutoRank => 3;

    public QuantizedModel Quantize(ModelProto prepared, QuantizeRequest request) => Quantize(prepared);

    /// <summary><paramref name="only"/>: just these nodes' weights (the ones static int8 left float for speed), else every weight.</summary>
    public QuantizedModel Quantize(ModelProto prepared, IReadOnlySet<string>? only = null)
    {
        var model = prepared.Clone();
        var graph = model.Graph;
        var writer = new QdqGraphWriter(graph);
        var weighted = QuantizableNode.Find(graph).Where(n => n.WeightInput is not null).Concat(FusedAttentionWeights(graph)).ToList();
        var nodes = weighted.Where(n => only is null || only.Contains(n.Name)).ToList();
        // The weights of the nodes not asked for (the accuracy repair's float layers) stay as they are.
        var untouched = weighted.Except(nodes).Select(n => n.WeightName!).ToHashSet(StringComparer.Ordinal);
        var done = new Dictionary<string, string>(StringComparer.Ordinal);
        var prologue = new List<NodeProto>();
        var quantized = new List<string>();
        foreach (var q in nodes)
        {
            var weightName = q.WeightName!;
            if (!done.TryGetValue(weightName, out var rebuilt))
            {
                var tensor = writer.Initializer(weightName);
                var dims = OnnxModelAccess.Dims(tensor);
                // Embedding rows and output channels: one scale each.
                int axis = q.Kind == QuantizableKind.GatherEmbedding ? 0 : q.ChannelAxis!.Value;
                var (values, p) = QuantizationMath.Int8WeightsSymmetric(OnnxModelAccess.ReadFloats(tensor), dims, axis);
                var scaleDims = dims.Select((d, i) => i == axis ? d : 1L).ToArray();
                var stored = writer.AddInitializer(OnnxModelAccess.Int8Tensor(weightName + "_quantized", values, dims));
                var scale = writer.AddInitializer(OnnxModelAccess.FloatTensor(weightName + "_scale", p.Scales, scaleDims));
                var asFloat = writer.Unique(weightName + "_int8_as_float");
                rebuilt = writer.Unique(weightName + "_rebuilt");
                var cast = OnnxModelAccess.Node("Cast", writer.Unique(weightName + "_Cast"), [stored], [asFloat]);
                cast.Attribute.Add(OnnxModelAccess.IntAttribute("to", (int)TensorProto.Types.DataType.Float));
                prologue.Add(cast);
                prologue.Add(OnnxModelAccess.Node("Mul", writer.Unique(weightName + "_ScaleMul"), [asFloat, scale], [rebuilt]));
                done[weightName] = rebuilt;
            }
            q.Node.Input[q.WeightInput!.Value] = rebuilt;
            quantized.Add(q.Name);
        }
        // The large constants no weighted node reads (a position table) get the same storage.
        Int8ConstantTables.Store(graph, writer, prologue, untouched);
        var all = prologue.Concat(graph.Node).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(all);
        QdqGraphWriter.RemoveUnusedInitializers(graph);
        return new QuantizedModel(model, quantized, 0);
    }

    /// <summary>
    /// The packed QKV weight ([hidden, 3*hidden], output channels on axis 1) of each com.microsoft <c>Attention</c> the
    /// optimize stage wrote: a weight like any MatMul's, which storage alone can shrink (ONNX Runtime folds the Cast +
    /// Mul before the kernel packs it). Without it the fused graph kept its largest matrices float.
    /// </summary>
    static IEnumerable<QuantizableNode> FusedAttentionWeights(GraphProto graph)
    {
        var initializers = OnnxModelAccess.Initializers(graph);
        return graph.Node
            .Where(n => n is { OpType: "Attention", Domain: "com.microsoft" } && n.Input.Count >= 2
                        && initializers.TryGetValue(n.Input[1], out var w) && OnnxModelAccess.IsFloat(w) && w.Dims.Count == 2)
            .Select(n => new QuantizableNode(n, QuantizableKind.MatMulWeight, 1, 1, [0], null));
    }
}
