namespace ModelBuild.Compression.Quantization;

/// <summary>Scale and zero point of one quantized tensor (per-tensor: one entry; per-channel: one per channel).</summary>
public sealed record QuantParams(float[] Scales, int[] ZeroPoints)
{
    public static QuantParams PerTensor(float scale, int zeroPoint) => new([scale], [zeroPoint]);
}

/// <summary>
/// The arithmetic of linear quantization, as ONNX QuantizeLinear defines it:
/// q = saturate(round_half_to_even(x / scale) + zero_point).
/// </summary>
public static class QuantizationMath
{
    /// <summary>Signed int8 asymmetric activation parameters for the range [min, max] (widened to include 0).</summary>
    public static QuantParams Int8Activation(float min, float max)
    {
        min = Math.Min(min, 0f);
        max = Math.Max(max, 0f);
        if (max - min < 1e-12f) return QuantParams.PerTensor(1f, 0);
        var scale = (max - min) / 255f;
        var zeroPoint = (int)Math.Clamp(Math.Round(-128 - min / scale, MidpointRounding.ToEven), -128, 127);
        return QuantParams.PerTensor(scale, zeroPoint);
    }

    /// <summary>
    /// The weight range of static QDQ int8 (ONNX Runtime's <c>reduce_range</c>: 7-bit weights). On x86 CPUs without
    /// VNNI, ONNX Runtime's integer GEMM/Conv kernels multiply u8 activations by s8 weights with VPMADDUBSW, whose
    /// 16-bit pair sums saturate for |w| above 64 (ONNX Runtime's quantization docs); measured here on an AVX2-only CPU,
    /// full-range weights cost mnist-8 0.1 points of agreement and made the kernels differ from QDQ arithmetic by five
    /// quantization steps. One range on every CPU keeps the output bytes independent of the machine.
    /// </summary>
    public const int StaticWeightMax = 64;

    /// <summary>
    /// Symmetric int8 weights, zero point 0, values in [-<paramref name="max"/>, <paramref name="max"/>] (127 by default:
    /// -128 is left out, the ONNX Runtime convention). <paramref name="axis"/> null: one scale.
    /// </summary>
    public static (sbyte[] Values, QuantParams Params) Int8WeightsSymmetric(float[] weights, long[] dims, int? axis, int max = 127)
    {
        var (channels, inner, outer) = Layout(dims, axis);
        var scales = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            float absMax = 0;
            ForChannel(c, channels, inner, outer, i => absMax = Math.Max(absMax, Math.Abs(weights[i])));
            scales[c] = absMax > 0 ? absMax / max : 1f;
        }
        var q = new sbyte[weights.Length];
        for (var c = 0; c < channels; c++)
        {
            var s = scales[c];
            ForChannel(c, channels, inner, outer, i => q[i] = (sbyte)Math.Clamp(Math.Round(weights[i] / s, MidpointRounding.ToEven), -max, max));
        }
        return (q, new QuantParams(scales, new int[channels]));
    }

    /// <summary>Bias as int32 with scale input_scale * weight_scale[c] and zero point 0 (what QLinearConv/QGemm expect).</summary>
    public static (int[] Values, float[] Scales) Int32Bias(float[] bias, float inputScale, float[] weightScales)
    {
        var scales = new float[bias.Length];
        var q = new int[bias.Length];
        for (var c = 0; c < bias.Length; c++)
        {
            scales[c] = inputScale * weightScales[weightScales.Length == 1 ? 0 : c];
            q[c] = scales[c] == 0 ? 0 : (int)Math.Clamp(Math.Round(bias[c] / scales[c], MidpointRounding.ToEven), int.MinValue + 1, int.MaxValue);
        }
        return (q, scales);
    }

    public static float Dequantize(int q, float scale, int zeroPoint) => (q - zeroPoint) * scale;

    /// <summary>Channels along <paramref name="axis"/>; each channel is <c>outer</c> runs of <c>inner</c> contiguous elements.</summary>
    private static (int Channels, int Inner, int Outer) Layout(long[] dims, int? axis)
    {
        var total = (int)dims.Aggregate(1L, (a, b) => a * b);
        if (axis is null) return (1, total, 1);
        var a = axis.Value < 0 ? axis.Value + dims.Length : axis.Value;
        var channels = (int)dims[a];
        var inner = (int)dims.Skip(a + 1).Aggregate(1L, (x, y) => x * y);
        var outer = total / Math.Max(1, channels * inner);
        return (channels, inner, outer);
    }

    private static void ForChannel(int c, int channels, int inner, int outer, Action<int> action)
    {
        for (var o = 0; o < outer; o++)
        {
            var start = (o * channels + c) * inner;
            for (var i = 0; i < inner; i++) action(start + i);
        }
    }
}
