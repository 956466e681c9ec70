using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// 4-bit weight-only quantization of MatMul/Gemm weights into ONNX Runtime's <c>com.microsoft.MatMulNBits</c>:
/// blocks of 32 along K, one float scale per block, symmetric (no zero-point tensor: the default zero point 8),
/// <c>accuracy_level</c> 4 so the CPU kernel quantizes activations to int8 and runs the integer path instead of
/// dequantizing weights to float. Symmetric blocks cost 4 + 32/32 = 5 bits per weight (6.4x smaller than float32);
/// a zero-point per block would push that to 5.5 bits (5.8x). Embedding tables (Gather on a float table) become
/// 4-bit <c>GatherBlockQuantized</c> (<see cref="BlockQuantizedGather"/>), so the table, the largest tensor of a small
/// transformer, shrinks as much as the matrices; a small table (under 8192 values, e.g. positions) or one ONNX Runtime's
/// kernel cannot hold (odd row width) is stored int8 (Gather + DequantizeLinear).
/// </summary>
public sealed class Int4WeightQuantizer : IQuantizationForm
{
    public const int BlockSize = 32;
    public const int AccuracyLevel = 4;

    public const string FormName = "int4-weight";

    public string Name => FormName;
    public IReadOnlyList<string> Aliases => ["int4weight", "int4"];
    public int MinimumOpset => 10;
    public bool SensitivityRepair => true;
    public bool NeedsCalibration => false;
    public bool OnlyWeightMatrices => true;
    public double BestCaseSizeRatio => 1 / 8.0;
    /// <summary>Tried by auto only with <c>--prefer size</c> (after the int8 forms): chosen for size, not speed.</summary>
    public int? AutoRank => 4;
    public bool FitsAuto(QuantizationFacts facts) => facts.PreferSize && facts.HasMatMulOrGemm;
    /// <summary><c>MatMulNBits</c> needs the separate Q/K/V projections: no 4-bit form of the fused Attention exists.</summary>
    public bool ReachesFusedAttention => false;

    public IReadOnlySet<string> ExcludedNodes { get; init; } = new HashSet<string>();

    public QuantizedModel Quantize(ModelProto prepared, QuantizeRequest request) => new Int4WeightQuantizer { ExcludedNodes = request.ExcludedNodes }.Quantize(prepared);

    public QuantizedModel Quantize(ModelProto prepared)
    {
        var model = prepared.Clone();
        var tables = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var quantized = WeightMatrixRewrite.Apply(model.Graph, ExcludedNodes, (node, q, writer) =>
        {
            if (q is null) return null;
            if (q.Kind != QuantizableKind.GatherEmbedding) return QuantizeMatMul(q, writer);
            return BlockQuantizedGather.Fits(writer.Initializer(node.Input[0]))
                ? [BlockQuantizedGather.Rewrite(writer, q, tables)]
                : [node, StaticQdqInt8Quantizer.QuantizeGather(writer, q)];
        });
        OnnxModelAccess.EnsureOpset(model, "com.microsoft", 1);
        return new QuantizedModel(model, quantized, 0);
    }

    /// <summary>MatMul/Gemm -> MatMulNBits with the weight in symmetric 4-bit blocks (and Add for a Gemm bias).</summary>
    static List<NodeProto> QuantizeMatMul(QuantizableNode q, QdqGraphWriter writer)
    {
        var node = q.Node;
        var tensor = writer.Initializer(node.Input[1]);
        var dims = OnnxModelAccess.Dims(tensor);
        var values = OnnxModelAccess.ReadFloats(tensor);
        var transB = q.Kind == QuantizableKind.Gemm && OnnxModelAccess.GetInt(node, "transB", 0) == 1;
        // MatMulNBits wants B as [N, K]: one row of K per output column.
        var (n, k) = transB ? ((int)dims[0], (int)dims[1]) : ((int)dims[1], (int)dims[0]);
        var rows = transB ? values : DynamicInt8Quantizer.Transpose(values, k, n);
        var (packed, scales, blocks) = QuantizeBlocks(rows, n, k);
        var b = writer.AddInitializer(OnnxModelAccess.UInt8Tensor(node.Input[1] + "_int4", packed, n, blocks, BlockSize / 2));
        var s = writer.AddInitializer(OnnxModelAccess.FloatTensor(node.Input[1] + "_int4_scales", scales, (long)n * blocks));
        var output = node.Output[0];
        var hasBias = q.Kind == QuantizableKind.Gemm && node.Input.Count > 2 && node.Input[2].Length > 0;
        var product = hasBias ? writer.Unique(output + "_unbiased") : output;
        var matmul = OnnxModelAccess.Node("MatMulNBits", writer.Unique(q.Name + "_MatMulNBits"), [node.Input[0], b, s], [product], "com.microsoft");
        matmul.Attribute.Add(OnnxModelAccess.IntAttribute("K", k));
        matmul.Attribute.Add(OnnxModelAccess.IntAttribute("N", n));
        matmul.Attribute.Add(OnnxModelAccess.IntAttribute("bits", 4));
        matmul.Attribute.Add(OnnxModelAccess.IntAttribute("block_size", BlockSize));
        matmul.Attribute.Add(OnnxModelAccess.IntAttribute("accuracy_level", AccuracyLevel));
        List<NodeProto> newNodes = [matmul];
        if (hasBias) newNodes.Add(OnnxModelAccess.Node("Add", writer.Unique(q.Name + "_BiasAdd"), [product, node.Input[2]], [output]));
        return newNodes;
    }

    /// <summary>
    /// Symmetric 4-bit blocks as MLAS does it: the value of largest magnitude maps to -8 (scale = v / -8), codes are
    /// q + 8 in [0, 15], two per byte with the even element in the low nibble. K is zero-padded to whole blocks.
    /// </summary>
    public static (byte[] Packed, float[] Scales, int Blocks) QuantizeBlocks(float[] rows, int n, int k)
    {
        var blocks = (k + BlockSize - 1) / BlockSize;
        var packed = new byte[(long)n * blocks * BlockSize / 2];
        var scales = new float[n * blocks];
        for (var r = 0; r < n; r++)
        {
            for (var b = 0; b < blocks; b++)
            {
                var start = b * BlockSize;
                var end = Math.Min(k, start + BlockSize);
                float extreme = 0;
                for (var i = start; i < end; i++)
                {
                    var v = rows[r * k + i];
                    if (Math.Abs(v) > Math.Abs(extreme)) extreme = v;
                }
                var scale = extreme == 0 ? 1f : extreme / -8f;
                scales[r * blocks + b] = scale;
                var offset = ((long)r * blocks + b) * (BlockSize / 2);
                for (var i = 0; i < BlockSize; i++)
                {
                    var v = start + i < end ? rows[r * k + start + i] : 0f;
                    var code = (byte)Math.Clamp(Math.Round(v / scale, MidpointRounding.ToEven) + 8, 0, 15);
                    packed[offset + i / 2] |= (byte)(i % 2 == 0 ? code : code << 4);
                }
            }
        }
        return (packed, scales, blocks);
    }
}
