using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// AdamW computing exactly what TorchSharp's <see cref="AdamW"/> computes (the same tensor operations on the same
/// values in the same order, so the same bits), without its per-step managed overhead, which dominates a small
/// student's step (a 13-16-3 MLP: the update of its four tensors costs less than the calls that make it): the gradient
/// wrappers are fetched once and kept (backward accumulates into the same gradient tensors), the constant coefficients
/// are <see cref="Scalar"/>s made once instead of one per call, the no-op decay multiply (weight decay 0) is skipped
/// and zeroing reuses the kept gradients. TorchSharp offers no fused or foreach AdamW.
/// <para>
/// It also removes a crash: TorchSharp's step passes doubles as implicit <see cref="Scalar"/> temporaries and hands only
/// their native handle to libtorch, so a garbage collection during the native call can finalize (free) a scalar that
/// libtorch is reading (MB0599 "Expected false to be true" from c10::Scalar::toFloat inside AdamW.step, once in CI).
/// Here every scalar is a field or a <c>using</c> local, reachable until after its last call; the rest of the engine
/// follows the same rule (<see cref="Native.KeptScalar"/>, enforced by ScalarLifetimeTests).
/// </para>
/// </summary>
public sealed class LeanAdamW : IDisposable
{
    readonly Parameter[] _parameters;
    readonly Tensor?[] _grads;
    readonly Tensor[] _expAvg, _expAvgSq;
    readonly long[] _steps;
    readonly double _beta1, _beta2, _weightDecay;
    readonly Scalar _beta1Scalar, _oneMinusBeta1, _beta2Scalar, _oneMinusBeta2, _eps;

    public LeanAdamW(IEnumerable<Parameter> parameters, double learningRate, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
    {
        _parameters = parameters.ToArray();
        _grads = new Tensor?[_parameters.Length];
        _expAvg = _parameters.Select(p => torch.zeros_like(p).DetachFromDisposeScope()).ToArray();
        _expAvgSq = _parameters.Select(p => torch.zeros_like(p).DetachFromDisposeScope()).ToArray();
        _steps = new long[_parameters.Length];
        (LearningRate, _beta1, _beta2, _weightDecay) = (learningRate, beta1, beta2, weightDecay);
        (_beta1Scalar, _oneMinusBeta1, _beta2Scalar, _oneMinusBeta2, _eps) = (beta1.ToScalar(), (1 - beta1).ToScalar(), beta2.ToScalar(), (1 - beta2).ToScalar(), eps.ToScalar());
    }

    /// <summary>The rate of the next <see cref="Step"/> (a schedule sets it before each step).</summary>
    public double LearningRate { get; set; }

    /// <summary>Zeroes the gradients backward has made (none before the first backward).</summary>
    public void ZeroGrad()
    {
        for (int i = 0; i < _parameters.Length; i++)
            Grad(i)?.zero_();
    }

    /// <summary>One AdamW update of every parameter that has a gradient (TorchSharp's AdamW.step, operation for operation).</summary>
    public void Step()
    {
        using var noGrad = torch.no_grad();
        double lr = LearningRate;
        using Scalar decay = (1 - lr * _weightDecay).ToScalar();
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (Grad(i) is not { } grad) continue;
            var param = _parameters[i];
            long step = ++_steps[i];
            // Multiplying by exactly 1 changes no bit: TorchSharp's call is skipped when there is no weight decay.
            if (_weightDecay != 0) param.mul_(decay);
            double biasCorrection1 = 1 - Math.Pow(_beta1, step), biasCorrection2 = 1 - Math.Pow(_beta2, step);
            _expAvg[i].mul_(_beta1Scalar).add_(grad, alpha: _oneMinusBeta1);
            _expAvgSq[i].mul_(_beta2Scalar).addcmul_(grad, grad, value: _oneMinusBeta2);
            using Scalar sqrtBiasCorrection2 = Math.Sqrt(biasCorrection2).ToScalar(), stepSize = (-(lr / biasCorrection1)).ToScalar();
            using var root = _expAvgSq[i].sqrt();
            using var denom = root.div(sqrtBiasCorrection2);
            denom.add_(_eps, Kept.One);
            param.addcdiv_(_expAvg[i], denom, value: stepSize);
        }
    }

    /// <summary>The parameter's gradient, kept once backward has made it: backward accumulates into that same tensor afterwards.</summary>
    Tensor? Grad(int i) => _grads[i] ??= _parameters[i].grad?.DetachFromDisposeScope();

    public void Dispose()
    {
        foreach (var t in _expAvg.Concat(_expAvgSq).Concat(_grads)) t?.Dispose();
        foreach (var s in new[] { _beta1Scalar, _oneMinusBeta1, _beta2Scalar, _oneMinusBeta2, _eps }) s.Dispose();
    }
}
