using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// LSTM -> ONNX Runtime's DynamicQuantizeLSTM (com.microsoft), the int8 kernel for recurrent weights, laid out as
/// ONNX Runtime's own quantizer writes it (onnxruntime/python/tools/quantization/operators/lstm.py): W [D, 4H, I] and
/// R [D, 4H, H] int8, symmetric, one scale per gate row and direction ([D, 4H], zero points 0), stored transposed as
/// [D, I, 4H] and [D, H, 4H]; the input is quantized at run time inside the kernel. Bias, sequence lengths, initial
/// states, peepholes and every attribute but `layout` (the kernel has none; only layout 0 is taken) are carried over.
/// </summary>
internal static class LstmDynamicQuantizer
{
    /// <summary>Whether <paramref name="node"/> is an LSTM whose W and R are float initializers of this graph.</summary>
    public static bool Fits(NodeProto node, QdqGraphWriter writer) =>
        node.OpType == "LSTM" && node.Domain is ("" or "ai.onnx") && node.Input.Count >= 3
        && IsFloat3d(node.Input[1], writer) && IsFloat3d(node.Input[2], writer)
        // DynamicQuantizeLSTM has no `layout` attribute (opset 14's batch-first LSTM): only the default layout 0 fits.
        && !node.Attribute.Any(a => a.Name == "layout" && a.I != 0);

    static bool IsFloat3d(string name, QdqGraphWriter writer) =>
        writer.IsInitializer(name) && writer.Initializer(name) is { Dims.Count: 3 } t && OnnxModelAccess.IsFloat(t);

    public static NodeProto Quantize(NodeProto node, QdqGraphWriter writer)
    {
        var (w, wScale, wZero) = Weight(node.Input[1], writer);
        var (r, rScale, rZero) = Weight(node.Input[2], writer);
        string Optional(int i) => node.Input.Count > i ? node.Input[i] : "";
        var lstm = OnnxModelAccess.Node("DynamicQuantizeLSTM", writer.Unique(node.Name + "_quant"),
            [node.Input[0], w, r, Optional(3), Optional(4), Optional(5), Optional(6), Optional(7), wScale, wZero, rScale, rZero],
            node.Output, "com.microsoft");
        lstm.Attribute.AddRange(node.Attribute.Where(a => a.Name != "layout").Select(a => a.Clone()));
        return lstm;
    }

    /// <summary>[D, 4H, K] float -> [D, K, 4H] int8 with [D, 4H] scales and zero points.</summary>
    static (string Q, string Scale, string Zero) Weight(string name, QdqGraphWriter writer)
    {
        var tensor = writer.Initializer(name);
        var dims = OnnxModelAccess.Dims(tensor);
        var (directions, rows, k) = (dims[0], dims[1], dims[2]);
        // One scale per gate row of each direction: the rows of the [D*4H, K] matrix.
        var (q, p) = QuantizationMath.Int8WeightsSymmetric(OnnxModelAccess.ReadFloats(tensor), [directions * rows, k], 0);
        var transposed = new sbyte[q.Length];
        for (var d = 0; d < directions; d++)
            for (var row = 0; row < rows; row++)
                for (var c = 0; c < k; c++)
                    transposed[(d * k + c) * rows + row] = q[(d * rows + row) * k + c];
        return (writer.AddInitializer(OnnxModelAccess.Int8Tensor(name + "_quantized", transposed, directions, k, rows)),
                writer.AddInitializer(OnnxModelAccess.FloatTensor(name + "_scale", p.Scales, directions, rows)),
                writer.AddInitializer(OnnxModelAccess.Int8Tensor(name + "_zero_point", new sbyte[directions * rows], directions, rows)));
    }
}
