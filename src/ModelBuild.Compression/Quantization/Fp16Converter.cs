using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// float32 -> float16 for weights and compute, keeping the model's inputs and outputs float32 (a Cast at each end),
/// so callers do not change. Inputs that ONNX requires to stay float32 (Resize/Upsample scales and roi) are kept.
/// On CPUs without fp16 arithmetic ONNX Runtime inserts Casts around kernels it only has in float32: the file halves,
/// the speed does not improve, and the report says so.
/// </summary>
public sealed class Fp16Converter : IQuantizationForm
{
    public string Name => "fp16";
    public IReadOnlyList<string> Aliases => ["float16"];
    public int MinimumOpset => 10;
    public bool SensitivityRepair => false;
    public bool NeedsCalibration => false;
    public bool OnlyWeightMatrices => false;
    /// <summary>Every float tensor is converted, quantizable node or not.</summary>
    public bool NeedsQuantizableNodes => false;
    public double BestCaseSizeRatio => 1 / 2.0;
    /// <summary>Never tried by auto: CPUs gain no speed from it.</summary>
    public int? AutoRank => null;
    public string? Note(QuantizationFacts facts) =>
        "fp16 halves the file; on CPUs without native fp16 arithmetic ONNX Runtime computes in float32 behind Cast nodes, so expect size gains, not speed.";

    public QuantizedModel Quantize(ModelProto prepared, QuantizeRequest request) => Convert(prepared);

    private static readonly int Float = (int)TensorProto.Types.DataType.Float;
    private static readonly int Float16 = (int)TensorProto.Types.DataType.Float16;

    public QuantizedModel Convert(ModelProto prepared)
    {
        var model = prepared.Clone();
        var graph = model.Graph;
        var keepFloat = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Node.Where(n => n.OpType is "Resize" or "Upsample"))
            for (var i = 1; i < node.Input.Count; i++) keepFloat.Add(node.Input[i]);

        var converted = new List<string>();
        for (var i = 0; i < graph.Initializer.Count; i++)
        {
            var t = graph.Initializer[i];
            if (t.DataType != Float || keepFloat.Contains(t.Name)) continue;
            graph.Initializer[i] = ToHalf(t);
            converted.Add(t.Name);
        }
        foreach (var node in graph.Node)
        {
            foreach (var a in node.Attribute)
            {
                if (a.T is { } t && t.DataType == Float && !(node.OpType == "Constant" && node.Output.Any(keepFloat.Contains))) a.T = ToHalf(t);
                if (node.OpType == "Cast" && a.Name == "to" && a.I == Float) a.I = Float16;
            }
        }

        converted.AddRange(Fp16Subgraphs.Convert(graph, ToHalf));

        var writer = new QdqGraphWriter(graph);
        var prologue = new List<NodeProto>();
        foreach (var input in graph.Input.Where(i => i.Type?.TensorType?.ElemType == Float))
        {
            var half = writer.Unique(input.Name + "_fp16");
            Rename(graph.Node, n => n.Input, input.Name, half);
            Fp16Subgraphs.RenameOuterReads(graph, input.Name, half);
            prologue.Add(Cast(writer.Unique(input.Name + "_CastToFp16"), input.Name, half, Float16));
        }
        var epilogue = new List<NodeProto>();
        foreach (var output in graph.Output.Where(o => o.Type?.TensorType?.ElemType == Float))
        {
            var half = writer.Unique(output.Name + "_fp16");
            Rename(graph.Node, n => n.Output, output.Name, half);
            Rename(graph.Node, n => n.Input, output.Name, half);
            Fp16Subgraphs.RenameOuterReads(graph, output.Name, half);
            epilogue.Add(Cast(writer.Unique(output.Name + "_CastToFp32"), half, output.Name, Float));
        }
        var all = prologue.Concat(graph.Node).Concat(epilogue).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(all);
        // Intermediate type annotations would now be wrong; ONNX Runtime re-infers them.
        graph.ValueInfo.Clear();
        return new QuantizedModel(model, converted, 0);
    }

    /// <summary>Points every <paramref name="from"/> among the nodes' inputs or outputs (<paramref name="values"/>) at <paramref name="to"/>.</summary>
    private static void Rename(IEnumerable<NodeProto> nodes, Func<NodeProto, IList<string>> values, string from, string to)
    {
        foreach (var node in nodes)
        {
            var names = values(node);
            for (var i = 0; i < names.Count; i++)
                if (names[i] == from) names[i] = to;
        }
    }

    private static NodeProto Cast(string name, string input, string output, int to)
    {
        var cast = OnnxModelAccess.Node("Cast", name, [input], [output]);
        cast.Attribute.Add(OnnxModelAccess.IntAttribute("to", to));
        return cast;
    }

    private static TensorProto ToHalf(TensorProto t)
    {
        var values = OnnxModelAccess.ReadFloats(t);
        var halves = new Half[values.Length];
        for (var i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
        return OnnxModelAccess.Float16Tensor(t.Name, halves, OnnxModelAccess.Dims(t));
    }
}
