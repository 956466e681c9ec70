using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ModelBuild.Compression.Distillation.Losses;

/// <summary>A teacher tensor and the student tensor that should mimic it (ONNX value names).</summary>
public sealed record FeaturePair(string Teacher, string Student)
{
    /// <summary>Parses <c>t:s,t2:s2</c> (the <c>--feature-pairs</c> syntax).</summary>
    public static IReadOnlyList<FeaturePair> ParseList(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(p => p.Split(':', 2) is [var t, var s] ? new FeaturePair(t.Trim(), s.Trim())
                : throw new FormatException($"Feature pair '{p}' is not of the form teacher_tensor:student_tensor."))
            .ToList();
}

/// <summary>
/// FitNets-style hint loss: the mean squared error between named teacher and student hidden tensors. When the last
/// (feature) axis widths differ, a learned linear projection maps the student's features to the teacher's width; the
/// projections are trained with the student but belong to this loss, so exporting the student drops them.
/// </summary>
public sealed class FeatureDistillationLoss : nn.Module
{
    readonly IReadOnlyList<FeaturePair> _pairs;
    readonly Dictionary<int, Linear> _projections = new();

    public FeatureDistillationLoss(IReadOnlyList<FeaturePair> pairs) : base(nameof(FeatureDistillationLoss)) => _pairs = pairs;

    public IReadOnlyList<FeaturePair> Pairs => _pairs;

    /// <summary>Creates the projections for widths seen on a probe batch (call once before building the optimizer).</summary>
    public void Prepare(IReadOnlyDictionary<string, Tensor> teacher, IReadOnlyDictionary<string, Tensor> student)
    {
        for (int i = 0; i < _pairs.Count; i++)
        {
            long tw = teacher[_pairs[i].Teacher].shape[^1], sw = student[_pairs[i].Student].shape[^1];
            if (tw == sw || _projections.ContainsKey(i)) continue;
            var projection = nn.Linear(sw, tw);
            _projections[i] = projection;
            register_module($"projection_{i}", projection);
        }
    }

    public bool HasProjections => _projections.Count > 0;

    public Tensor Compute(IReadOnlyDictionary<string, Tensor> teacher, IReadOnlyDictionary<string, Tensor> student)
    {
        Tensor? total = null;
        for (int i = 0; i < _pairs.Count; i++)
        {
            var t = teacher[_pairs[i].Teacher].detach();
            var s = student[_pairs[i].Student];
            if (_projections.TryGetValue(i, out var p)) s = p.forward(s);
            if (!t.shape.SequenceEqual(s.shape))
                throw new InvalidOperationException($"Feature pair {_pairs[i].Teacher}:{_pairs[i].Student}: shapes [{string.Join(",", t.shape)}] and [{string.Join(",", s.shape)}] differ beyond the feature width.");
            var term = F.mse_loss(s, t);
            total = total is null ? term : total.add(term, Kept.One);
        }
        return total!.div(Kept.Of(_pairs.Count));
    }
}
