using ModelBuild.Compression.Quantization;
using Onnx;
using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Losses;

/// <summary>
/// Quantization-aware distillation of activations: the tensors the static int8 step will put a QuantizeLinear /
/// DequantizeLinear pair on (<see cref="StaticQdqInt8Quantizer.Plan"/>: the activation inputs of quantized
/// MatMul/Gemm/Conv nodes and the outputs feeding only quantized nodes) pass through signed int8 fake quantization
/// with that step's parameters (<see cref="QuantizationMath.Int8Activation"/>: asymmetric, scale (max - min) / 255,
/// range widened to include 0), so the student trains against the rounding and clipping it will meet.
/// Ranges are observed while training as PyTorch's <c>MovingAverageMinMaxObserver</c> does (the first batch's
/// min/max, then an exponential moving average with constant 0.01) and frozen in eval mode. Gradients pass straight
/// through inside the range and are zero outside it, as in PyTorch's <c>FakeQuantize</c> (<see cref="FakeQuantize"/>).
/// </summary>
public sealed class ActivationFakeQuantization
{
    public const double AveragingConstant = 0.01;
    readonly Dictionary<string, (float Min, float Max)> _ranges = new(StringComparer.Ordinal);

    public ActivationFakeQuantization(IEnumerable<string> tensors) => Tensors = tensors.ToHashSet(StringComparer.Ordinal);

    /// <summary>Fixed ranges (e.g. a finished run's <see cref="DistillationResult.ActivationRanges"/>), as in eval mode.</summary>
    public ActivationFakeQuantization(IReadOnlyDictionary<string, (float Min, float Max)> ranges) : this(ranges.Keys)
    {
        foreach (var (k, v) in ranges) _ranges[k] = v;
    }

    /// <summary>The tensors the static int8 step quantizes, for a student graph (data-movement copies that share a source's parameters excluded).</summary>
    public static ActivationFakeQuantization ForGraph(GraphProto graph)
    {
        var (_, tensors, sameAs) = new StaticQdqInt8Quantizer().Plan(graph);
        return new ActivationFakeQuantization(tensors.Where(t => !sameAs.ContainsKey(t)));
    }

    public IReadOnlySet<string> Tensors { get; }

    /// <summary>The observed [min, max] of each tensor so far (what a calibration of the trained student would start from).</summary>
    public IReadOnlyDictionary<string, (float Min, float Max)> Ranges => _ranges;

    /// <summary>Observes (when <paramref name="training"/>) and fake-quantizes one tensor.</summary>
    public Tensor Apply(string name, Tensor x, bool training)
    {
        if (!Tensors.Contains(name) || !x.is_floating_point()) return x;
        if (training)
        {
            float min, max;
            using (torch.no_grad())
            {
                using var d = x.detach();
                using var lo = d.min();
                using var hi = d.max();
                min = lo.item<float>();
                max = hi.item<float>();
            }
            if (_ranges.TryGetValue(name, out var r))
            {
                min = (float)(r.Min + AveragingConstant * (min - r.Min));
                max = (float)(r.Max + AveragingConstant * (max - r.Max));
            }
            _ranges[name] = (min, max);
        }
        if (!_ranges.TryGetValue(name, out var range)) return x; // never observed: nothing to quantize against yet
        var p = QuantizationMath.Int8Activation(range.Min, range.Max);
        return FakeQuantize(x, p.Scales[0], p.ZeroPoints[0]);
    }

    /// <summary>
    /// <c>(clamp(round_half_even(x / scale) + zp, -128, 127) - zp) * scale</c>, what QuantizeLinear then DequantizeLinear
    /// compute, with PyTorch FakeQuantize's gradient: 1 where x is inside the representable range, 0 where it clips.
    /// (TorchSharp 0.107 declares <c>fake_quantize_per_tensor_affine</c> but does not implement it.)
    /// </summary>
    public static Tensor FakeQuantize(Tensor x, float scale, int zeroPoint)
    {
        double lo = (-128 - zeroPoint) * (double)scale, hi = (127 - zeroPoint) * (double)scale;
        // The range moves every training step: these scalars live until the calls below return, not in KeptScalar.
        using Scalar low = lo.ToScalar(), high = hi.ToScalar(), step = scale.ToScalar(), zero = zeroPoint.ToScalar();
        var clipped = x.clamp(low, high);
        Tensor q;
        using (torch.no_grad()) q = x.div(step).round().add(zero, Kept.One).clamp(Kept.Of(-128), Kept.Of(127)).sub(zero).mul(step);
        return clipped.add(q.sub(clipped.detach()), Kept.One);
    }
}
