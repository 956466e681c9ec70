using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Losses;

/// <summary>
/// Quantization-aware distillation: the student's weights pass through symmetric int8 fake quantization on every
/// forward pass (per output channel for 2-D+ weights: axis 0 for Conv/Gemm-[out,in], axis 1 for MatMul-[in,out]),
/// and gradients pass straight through (STE: <c>w + (q(w) - w).detach()</c>). The student thus learns weights that
/// survive int8 rounding; the real int8 model is produced afterwards by the quantization engine
/// (<see cref="DistillationResult.NeedsInt8Step"/>), which uses the same symmetric per-channel scheme.
/// </summary>
public static class FakeQuantization
{
    /// <summary>The static int8 step's weight range (7 bits, <see cref="Quantization.QuantizationMath.StaticWeightMax"/>).</summary>
    public const int QuantMax = Quantization.QuantizationMath.StaticWeightMax;

    /// <param name="channelAxis">The axis that holds output channels, or null for one scale per tensor.</param>
    public static Tensor Apply(Tensor w, long? channelAxis)
    {
        if (w.dim() < 2) return w; // biases and norms stay float, as in the int8 engine
        Tensor maxAbs;
        if (channelAxis is long axis)
        {
            var reduce = Enumerable.Range(0, (int)w.dim()).Where(i => i != axis).Select(i => (long)i).ToArray();
            maxAbs = w.detach().abs().amax(reduce, true);
        }
        else
        {
            maxAbs = w.detach().abs().max();
        }
        var scale = maxAbs.clamp_min(Kept.Of(1e-8)).div(Kept.Of(QuantMax));
        var q = w.div(scale).round().clamp(Kept.Of(-QuantMax), Kept.Of(QuantMax)).mul(scale);
        return w.add(q.sub(w).detach(), Kept.One);
    }
}
