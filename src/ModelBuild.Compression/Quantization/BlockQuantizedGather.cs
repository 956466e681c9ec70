using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// A Gather on a float embedding table rewritten as ONNX Runtime's <c>com.microsoft.GatherBlockQuantized</c> with
/// 4-bit codes, the layout its CPU kernel reads for uint8 data (onnxruntime contrib_ops/cpu/quantization/
/// gather_block_quantized.cc, the form its matmul_nbits_quantizer writes for embeddings): gather_axis 0, quantize_axis
/// the last (row) axis, data [V, H/2] with element 2i in the low nibble and 2i+1 in the high one, scales [V, ceil(H/B)]
/// float, zero points [V, ceil(ceil(H/B)/2)] two 4-bit codes per byte (even block low), value = (code - zero) * scale.
/// Asymmetric blocks, because embedding rows are rarely centred: 4 + 32/32 + 4/32 = 5.125 bits per value, 6.2x smaller
/// than float32. Only the rows asked for are dequantized at run time, so the file shrinks and the lookup stays a lookup.
/// </summary>
public static class BlockQuantizedGather
{
    /// <summary>The block size along a row: ONNX Runtime takes powers of two from 16; 32 as its quantizer and MatMulNBits use.</summary>
    public const int BlockSize = 32;

    /// <summary>
    /// Tables smaller than this (32 KiB of float32, e.g. the students' 64x64 position and 2x64 segment tables) stay
    /// int8: 4 bits would save a few KiB and cost their precision; the word tables this is for are larger (627x64 and
    /// 1069x64 in the shared students).
    /// </summary>
    public const int MinimumElements = 8192;

    /// <summary>
    /// Whether this table is worth 4 bits and ONNX Runtime's uint8 kernel can hold it: 2-D, an even row width (two
    /// codes per byte) and at least <see cref="MinimumElements"/> values.
    /// </summary>
    public static bool Fits(TensorProto table) =>
        table.Dims.Count == 2 && table.Dims[1] % 2 == 0 && table.Dims[1] > 0 && table.Dims[0] * table.Dims[1] >= MinimumElements;

    /// <summary>
    /// Replaces the Gather of <paramref name="q"/> (whose table <see cref="Fits"/>) by GatherBlockQuantized on the same
    /// indices and output; tables already rewritten for another Gather are shared through <paramref name="done"/>.
    /// </summary>
    internal static NodeProto Rewrite(QdqGraphWriter writer, QuantizableNode q, Dictionary<string, string[]> done)
    {
        var tableName = q.Node.Input[0];
        if (!done.TryGetValue(tableName, out var inputs))
        {
            var table = writer.Initializer(tableName);
            var (rows, width) = ((int)table.Dims[0], (int)table.Dims[1]);
            var (packed, scales, zeros, blocks) = Quantize(OnnxModelAccess.ReadFloats(table), rows, width);
            inputs =
            [
                writer.AddInitializer(OnnxModelAccess.UInt8Tensor(tableName + "_int4", packed, rows, width / 2)),
                writer.AddInitializer(OnnxModelAccess.FloatTensor(tableName + "_int4_scales", scales, rows, blocks)),
                writer.AddInitializer(OnnxModelAccess.UInt8Tensor(tableName + "_int4_zero_points", zeros, rows, (blocks + 1) / 2)),
            ];
            done[tableName] = inputs;
        }
        var node = OnnxModelAccess.Node("GatherBlockQuantized", writer.Unique(q.Name + "_GatherBlockQuantized"),
            [inputs[0], q.Node.Input[1], inputs[1], inputs[2]], [q.Node.Output[0]], "com.microsoft");
        node.Attribute.Add(OnnxModelAccess.IntAttribute("gather_axis", 0));
        node.Attribute.Add(OnnxModelAccess.IntAttribute("quantize_axis", 1));
        node.Attribute.Add(OnnxModelAccess.IntAttribute("block_size", BlockSize));
        node.Attribute.Add(OnnxModelAccess.IntAttribute("bits", 4));
        return node;
    }

    /// <summary>
    /// Asymmetric 4-bit blocks of <see cref="BlockSize"/> along each row of a [rows, width] table (width even): the
    /// block's range widened to include 0 maps to codes 0..15 (scale = (max - min) / 15, zero = round(-min / scale)),
    /// as ONNX Runtime's quantizer does; rounding half to even, so the same table always gives the same bytes.
    /// </summary>
    public static (byte[] Packed, float[] Scales, byte[] ZeroPoints, int Blocks) Quantize(float[] table, int rows, int width)
    {
        if (width % 2 != 0) throw new ArgumentException($"GatherBlockQuantized needs an even row width, got {width}.", nameof(width));
        var blocks = (width + BlockSize - 1) / BlockSize;
        var zeroBytes = (blocks + 1) / 2;
        var packed = new byte[(long)rows * width / 2];
        var scales = new float[rows * blocks];
        var zeros = new byte[rows * zeroBytes];
        for (var r = 0; r < rows; r++)
        {
            for (var b = 0; b < blocks; b++)
            {
                var start = r * width + b * BlockSize;
                var end = r * width + Math.Min(width, (b + 1) * BlockSize);
                float min = 0, max = 0;
                for (var i = start; i < end; i++) { min = Math.Min(min, table[i]); max = Math.Max(max, table[i]); }
                var scale = max > min ? (max - min) / 15f : 1f;
                var zero = (int)Math.Clamp(Math.Round(-min / scale, MidpointRounding.ToEven), 0, 15);
                scales[r * blocks + b] = scale;
                zeros[r * zeroBytes + b / 2] |= (byte)(b % 2 == 0 ? zero : zero << 4);
                for (var i = start; i < end; i++)
                {
                    var code = (byte)Math.Clamp(Math.Round(table[i] / scale, MidpointRounding.ToEven) + zero, 0, 15);
                    var e = i - r * width;
                    packed[((long)r * width + e) / 2] |= (byte)(e % 2 == 0 ? code : code << 4);
                }
            }
        }
        return (packed, scales, zeros, blocks);
    }

    /// <summary>The float table the codes stand for, as the kernel computes it: (code - zero) * scale.</summary>
    public static float[] Dequantize(byte[] packed, float[] scales, byte[] zeroPoints, int rows, int width)
    {
        var blocks = (width + BlockSize - 1) / BlockSize;
        var zeroBytes = (blocks + 1) / 2;
        var table = new float[(long)rows * width];
        for (var r = 0; r < rows; r++)
            for (var e = 0; e < width; e++)
            {
                var b = e / BlockSize;
                var code = packed[((long)r * width + e) / 2];
                var zero = zeroPoints[r * zeroBytes + b / 2];
                table[(long)r * width + e] = ((e % 2 == 0 ? code & 0x0F : code >> 4) - (b % 2 == 0 ? zero & 0x0F : zero >> 4)) * scales[r * blocks + b];
            }
        return table;
    }
}
