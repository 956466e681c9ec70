using Onnx;
using ModelBuild.Onnx.Graph;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Dynamic int8 for MatMul and Gemm: weights stored int8 (symmetric, per output column), activations quantized
/// at run time. Written as the standard subgraph DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul, which ONNX
/// Runtime fuses into its DynamicQuantizeMatMul/MatMulIntegerToFloat kernels (the fastest CPU form). Convolutions
/// are left in float: ONNX Runtime's CPU provider has no fast ConvInteger path, so dynamic Conv would be slower.
/// Embedding tables (Gather) are stored int8 and dequantized after the lookup, as in the static quantizer.
/// </summary>
public sealed class DynamicInt8Quantizer : IQuantizationForm
{
    public string Name => "int8-dynamic";
    public IReadOnlyList<string> Aliases => ["int8dynamic", "dynamic"];
    /// <summary>DynamicQuantizeLinear.</summary>
    public int MinimumOpset => GraphPreparation.DynamicQuantizationOpset;
    public bool SensitivityRepair => true;
    public bool NeedsCalibration => false;
    public bool OnlyWeightMatrices => true;
    public double BestCaseSizeRatio => 1 / 4.0;
    public int? AutoRank => 2;
    public bool FitsAuto(QuantizationFacts facts) => facts.HasMatMulOrGemm;
    public string? Note(QuantizationFacts facts) => facts.HasConv
        ? "Convolutions are not dynamically quantized: ONNX Runtime's CPU provider has no fast ConvInteger kernel, so they stay float (use int8-static for CNNs)."
        : null;

    public IReadOnlySet<string> ExcludedNodes { get; init; } = new HashSet<string>();

    public QuantizedModel Quantize(ModelProto prepared, QuantizeRequest request) => new DynamicInt8Quantizer { ExcludedNodes = request.ExcludedNodes }.Quantize(prepared);

    public QuantizedModel Quantize(ModelProto prepared)
    {
        var model = prepared.Clone();
        var weights = new Dictionary<string, (string Q, string Zero, string Scale)>(StringComparer.Ordinal);
        var quantized = WeightMatrixRewrite.Apply(model.Graph, ExcludedNodes, (node, q, writer) =>
        {
            if (IsFusedAttention(node, writer) && !ExcludedNodes.Contains(node.Name)) return QuantizeAttention(node, writer);
            if (q is null) return null;
            if (q.Kind == QuantizableKind.GatherEmbedding) return [node, StaticQdqInt8Quantizer.QuantizeGather(writer, q)];
            return QuantizeMatMul(q, writer, weights);
        });
        OnnxModelAccess.EnsureOpset(model, "", GraphPreparation.DynamicQuantizationOpset);
        return new QuantizedModel(model, quantized, 0);
    }

    /// <summary>
    /// MatMul/Gemm -> DynamicQuantizeLinear, MatMulInteger, Cast, Mul (and Add for a Gemm bias); the int8 weight,
    /// its zero point and scale are written once per weight (and transposition) in <paramref name="weights"/>.
    /// </summary>
    static List<NodeProto> QuantizeMatMul(QuantizableNode q, QdqGraphWriter writer, Dictionary<string, (string Q, string Zero, string Scale)> weights)
    {
        var node = q.Node;
        var newNodes = new List<NodeProto>();
        var weightName = node.Input[1];
        var transB = q.Kind == QuantizableKind.Gemm && OnnxModelAccess.GetInt(node, "transB", 0) == 1;
        if (!weights.TryGetValue(weightName + (transB ? "/T" : ""), out var w))
        {
            var tensor = writer.Initializer(weightName);
            var dims = OnnxModelAccess.Dims(tensor);
            var values = OnnxModelAccess.ReadFloats(tensor);
            if (transB) (values, dims) = (Transpose(values, (int)dims[0], (int)dims[1]), [dims[1], dims[0]]);
            // MatMulInteger takes B as [K, N]; one scale per output column N.
            var (qv, p) = QuantizationMath.Int8WeightsSymmetric(values, dims, 1);
            w = (writer.AddInitializer(OnnxModelAccess.Int8Tensor(weightName + "_quantized", qv, dims)),
                 writer.AddInitializer(OnnxModelAccess.Int8Tensor(weightName + "_zero_point", new sbyte[dims[1]], dims[1])),
                 writer.AddInitializer(OnnxModelAccess.FloatTensor(weightName + "_scale", p.Scales, dims[1])));
            weights[weightName + (transB ? "/T" : "")] = w;
        }
        var input = node.Input[0];
        var output = node.Output[0];
        var prefix = q.Name;
        string U(string s) => writer.Unique(prefix + s);
        var (aq, aScale, aZero) = (U("_input_quantized"), U("_input_scale"), U("_input_zero_point"));
        var integer = U("_output_int32");
        var asFloat = U("_output_float_unscaled");
        var scale = U("_output_scale");
        var product = q.Kind == QuantizableKind.Gemm && node.Input.Count > 2 ? U("_output_unbiased") : output;
        newNodes.Add(OnnxModelAccess.Node("DynamicQuantizeLinear", U("_DynamicQuantizeLinear"), [input], [aq, aScale, aZero]));
        newNodes.Add(OnnxModelAccess.Node("MatMulInteger", U("_MatMulInteger"), [aq, w.Q, aZero, w.Zero], [integer]));
        var cast = OnnxModelAccess.Node("Cast", U("_Cast"), [integer], [asFloat]);
        cast.Attribute.Add(OnnxModelAccess.IntAttribute("to", (int)TensorProto.Types.DataType.Float));
        newNodes.Add(cast);
        newNodes.Add(OnnxModelAccess.Node("Mul", U("_ScaleMul"), [aScale, w.Scale], [scale]));
        newNodes.Add(OnnxModelAccess.Node("Mul", U("_OutputMul"), [asFloat, scale], [product]));
        if (product != output)
            newNodes.Add(OnnxModelAccess.Node("Add", U("_BiasAdd"), [product, node.Input[2]], [output]));
        return newNodes;
    }

    /// <summary>
    /// ONNX Runtime's fused Attention (from the optimize stage) with a constant float packed QKV weight, and widths
    /// QAttention can take (equal, or made equal by <see cref="AttentionWidths"/>).
    /// </summary>
    internal static bool IsFusedAttention(NodeProto node, QdqGraphWriter writer) =>
        node.OpType == "Attention" && node.Domain == "com.microsoft" && node.Input.Count >= 3
        && writer.IsInitializer(node.Input[1]) && writer.Initializer(node.Input[1]) is { Dims.Count: 2 } w && OnnxModelAccess.IsFloat(w)
        && (UnequalWidths(node) is not { } sizes || AttentionWidths.CanEqualize(sizes, node.GetInt("num_heads", 1)) && writer.IsInitializer(node.Input[2]));

    /// <summary>An Attention's q/k/v widths when they differ (qkv_hidden_sizes, written by AttentionOutputFold), else null.</summary>
    static long[]? UnequalWidths(NodeProto node) =>
        node.GetInts("qkv_hidden_sizes") is { Length: 3 } s && (s[0] != s[1] || s[1] != s[2]) ? s : null;

    /// <summary>The weight, bias and attributes QAttention gets: the node's own, or with equal widths (<see cref="AttentionWidths"/>).</summary>
    static (string Weight, string Bias, List<AttributeProto> Attributes) EqualWidths(NodeProto node, QdqGraphWriter writer)
    {
        var attributes = node.Attribute.Where(a => a.Name != "qkv_hidden_sizes").Select(a => a.Clone()).ToList();
        if (UnequalWidths(node) is not { } sizes) return (node.Input[1], node.Input[2], attributes);
        var heads = (int)node.GetInt("num_heads", 1);
        var weight = writer.Initializer(node.Input[1]);
        var rows = (int)OnnxModelAccess.Dims(weight)[0];
        var (w, b) = AttentionWidths.Equalize(OnnxModelAccess.ReadFloats(weight), OnnxModelAccess.ReadFloats(writer.Initializer(node.Input[2])), rows, sizes, heads);
        if (!attributes.Any(a => a.Name == "scale")) attributes.Add(NodeAttributes.Float("scale", AttentionWidths.DefaultScale(sizes[0], heads)));
        var weightName = writer.AddInitializer(OnnxModelAccess.FloatTensor(node.Input[1] + "_equal_widths", w, rows, w.Length / rows));
        var biasName = writer.AddInitializer(OnnxModelAccess.FloatTensor(node.Input[2] + "_equal_widths", b, b.Length));
        return (weightName, biasName, attributes);
    }

    /// <summary>
    /// Attention -> DynamicQuantizeLinear + QAttention, as ONNX Runtime's quantizer writes it: the packed QKV weight
    /// int8 (symmetric, one scale: QAttention's CPU kernel takes a per-tensor weight scale), the input quantized at
    /// run time, the attributes (heads, scale, mask filter value) carried over.
    /// </summary>
    static IEnumerable<NodeProto> QuantizeAttention(NodeProto node, QdqGraphWriter writer)
    {
        string U(string s) => writer.Unique(node.Name + s);
        var (aq, aScale, aZero) = (U("_input_quantized"), U("_input_scale"), U("_input_zero_point"));
        yield return OnnxModelAccess.Node("DynamicQuantizeLinear", U("_DynamicQuantizeLinear"), [node.Input[0]], [aq, aScale, aZero]);
        yield return QAttention(node, writer, aq, aScale, aZero);
    }

    /// <summary>
    /// QAttention over an already quantized uint8 input (its scale and zero point given): the packed QKV weight int8,
    /// symmetric with one scale; shared by the dynamic form and the static one (whose input scale is calibrated).
    /// </summary>
    internal static NodeProto QAttention(NodeProto node, QdqGraphWriter writer, string quantizedInput, string inputScale, string inputZeroPoint)
    {
        var (weightName, biasName, attributes) = EqualWidths(node, writer);
        var tensor = writer.Initializer(weightName);
        var dims = OnnxModelAccess.Dims(tensor);
        var (qv, p) = QuantizationMath.Int8WeightsSymmetric(OnnxModelAccess.ReadFloats(tensor), dims, null);
        var wq = writer.AddInitializer(OnnxModelAccess.Int8Tensor(weightName + "_quantized", qv, dims));
        var wScale = writer.AddInitializer(OnnxModelAccess.FloatTensor(weightName + "_scale", [p.Scales[0]]));
        var wZero = writer.AddInitializer(OnnxModelAccess.Int8Tensor(weightName + "_zero_point", [0]));
        var mask = node.Input.Count > 3 ? node.Input[3] : "";
        var attention = OnnxModelAccess.Node("QAttention", writer.Unique(node.Name + "_QAttention"),
            [quantizedInput, wq, biasName, inputScale, wScale, mask, inputZeroPoint, wZero], node.Output, "com.microsoft");
        attention.Attribute.AddRange(attributes);
        return attention;
    }

    internal static float[] Transpose(float[] values, int rows, int cols)
    {
        var t = new float[values.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++)
                t[c * rows + r] = values[r * cols + c];
        return t;
    }
}
