using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// AdamW (decoupled weight decay), the same arithmetic in the same order as TorchSharp 0.107's <c>torch.optim.AdamW</c>,
/// so a seed gives the same bytes, but with every <see cref="Scalar"/> held until the step ends.
/// <para>
/// Why not TorchSharp's: its step passes doubles as implicit <see cref="Scalar"/> temporaries and hands only their native
/// handle to libtorch. Nothing keeps the managed object alive during the native call, so a garbage collection there
/// queues it for finalization and the finalizer thread frees the native scalar while libtorch reads it. The build saw
/// it as MB0599 "Expected false to be true" from c10::Scalar::toFloat inside AdamW.step, now and then under load
/// (twice in the sample's pruning recovery, once in a fresh-clone CI run of the IntentRouter build). Here each scalar
/// is a local disposed after its last use, which keeps it reachable through every call that reads it.
/// </para>
/// </summary>
public sealed class KeptScalarsAdamW : IDisposable
{
    readonly Parameter[] _parameters;
    readonly Tensor[] _expAvg, _expAvgSq;
    readonly double _beta1, _beta2, _eps, _weightDecay;
    long _step;

    public KeptScalarsAdamW(IEnumerable<Parameter> parameters, double learningRate, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
    {
        _parameters = parameters.ToArray();
        LearningRate = learningRate;
        (_beta1, _beta2, _eps, _weightDecay) = (beta1, beta2, eps, weightDecay);
        using var noGrad = torch.no_grad();
        _expAvg = _parameters.Select(p => torch.zeros_like(p).DetachFromDisposeScope()).ToArray();
        _expAvgSq = _parameters.Select(p => torch.zeros_like(p).DetachFromDisposeScope()).ToArray();
    }

    /// <summary>The rate of the next <see cref="Step"/> (a schedule sets it before each step).</summary>
    public double LearningRate { get; set; }

    /// <summary>Sets every parameter's gradient to zero (in place, as TorchSharp's optimizers do).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            using var grad = p.grad;
            grad?.zero_();
        }
    }

    /// <summary>One AdamW update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        double lr = LearningRate;
        _step++;
        double biasCorrection1 = 1 - Math.Pow(_beta1, _step);
        double biasCorrection2 = 1 - Math.Pow(_beta2, _step);
        using var decay = (1 - lr * _weightDecay).ToScalar();
        using var beta1 = _beta1.ToScalar();
        using var oneMinusBeta1 = (1 - _beta1).ToScalar();
        using var beta2 = _beta2.ToScalar();
        using var oneMinusBeta2 = (1 - _beta2).ToScalar();
        using var sqrtBiasCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
        using var eps = _eps.ToScalar();
        using var negativeStepSize = (-(lr / biasCorrection1)).ToScalar();
        for (int i = 0; i < _parameters.Length; i++)
        {
            var param = _parameters[i];
            var grad = param.grad;
            if (grad is null) continue;
            param.mul_(decay);
            _expAvg[i].mul_(beta1).add_(grad, alpha: oneMinusBeta1);
            _expAvgSq[i].mul_(beta2).addcmul_(grad, grad, value: oneMinusBeta2);
            var denom = _expAvgSq[i].sqrt().div_(sqrtBiasCorrection2).add_(eps);
            param.addcdiv_(_expAvg[i], denom, value: negativeStepSize);
        }
    }

    public void Dispose()
    {
        foreach (var t in _expAvg) t.Dispose();
        foreach (var t in _expAvgSq) t.Dispose();
    }
}
