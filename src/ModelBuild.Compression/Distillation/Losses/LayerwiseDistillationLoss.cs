using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Losses;

/// <summary>
/// TinyBERT-style layer-wise transformer distillation, added to the response loss: the mean squared error between
/// mapped hidden states (the embedding output and each student layer's output against its teacher layer's, through a
/// learned linear projection when the widths differ, as <see cref="FeatureDistillationLoss"/> does: it belongs to the
/// loss, so exporting the student drops it), plus the KL divergence between mapped attention distributions (each
/// query's Softmax row over keys, per head when both have the same number of heads, else averaged over heads).
/// </summary>
public sealed class LayerwiseDistillationLoss : nn.Module
{
    readonly FeatureDistillationLoss _hidden;
    readonly IReadOnlyList<FeaturePair> _attention;

    /// <param name="hidden">Teacher:student hidden-state tensors (embeddings, then each mapped layer's output).</param>
    /// <param name="attention">Teacher:student attention-probability tensors ([batch, heads, queries, keys]); may be empty.</param>
    public LayerwiseDistillationLoss(IReadOnlyList<FeaturePair> hidden, IReadOnlyList<FeaturePair> attention) : base(nameof(LayerwiseDistillationLoss))
    {
        _hidden = new FeatureDistillationLoss(hidden);
        _attention = attention;
        register_module("hidden", _hidden);
    }

    public IEnumerable<string> TeacherTensors => _hidden.Pairs.Concat(_attention).Select(p => p.Teacher);
    public IEnumerable<string> StudentTensors => _hidden.Pairs.Concat(_attention).Select(p => p.Student);

    /// <summary>Creates the hidden-state projections for widths seen on a probe batch (before building the optimizer).</summary>
    public void Prepare(IReadOnlyDictionary<string, Tensor> teacher, IReadOnlyDictionary<string, Tensor> student) => _hidden.Prepare(teacher, student);

    public bool HasProjections => _hidden.HasProjections;

    public Tensor Compute(IReadOnlyDictionary<string, Tensor> teacher, IReadOnlyDictionary<string, Tensor> student)
    {
        var total = _hidden.Compute(teacher, student);
        if (_attention.Count == 0) return total;
        Tensor? attention = null;
        foreach (var pair in _attention)
        {
            var term = AttentionKl(teacher[pair.Teacher].detach(), student[pair.Student]);
            attention = attention is null ? term : attention.add(term, Kept.One);
        }
        return total.add(attention!.div(Kept.Of(_attention.Count)), Kept.One);
    }

    /// <summary>KL(teacher || student) of the attention rows, summed over keys, averaged over batch, heads and queries.</summary>
    public static Tensor AttentionKl(Tensor teacher, Tensor student)
    {
        if (teacher.dim() == 4 && student.dim() == 4 && teacher.shape[1] != student.shape[1])
        {
            teacher = teacher.mean([1L], keepdim: true);
            student = student.mean([1L], keepdim: true);
        }
        if (!teacher.shape.SequenceEqual(student.shape))
            throw new InvalidOperationException($"Attention shapes [{string.Join(",", teacher.shape)}] and [{string.Join(",", student.shape)}] differ beyond the number of heads.");
        // Masked keys have probability 0 in both: the clamp keeps 0 * log 0 at 0 instead of NaN.
        var kl = teacher.mul(teacher.clamp_min(Kept.Of(1e-12)).log().sub(student.clamp_min(Kept.Of(1e-12)).log())).sum(-1);
        return kl.mean();
    }
}
