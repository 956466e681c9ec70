using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ModelBuild.Compression.Distillation.Losses;

/// <summary>
/// Hinton et al.'s soft-target loss: <c>alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, y)</c>, with
/// the KL divergence averaged over the batch (PyTorch's <c>reduction='batchmean'</c>). The T^2 factor keeps the soft
/// term's gradients on the same scale as the hard term's when T changes. Without labels it is pure KD (alpha = 1).
/// Label smoothing, when set, applies to the true labels' cross-entropy only (the teacher's targets are soft already).
/// </summary>
public sealed class ResponseDistillationLoss
{
    public ResponseDistillationLoss(double temperature = 4.0, double alpha = 0.9, double labelSmoothing = 0.0)
    {
        if (temperature <= 0) throw new ArgumentOutOfRangeException(nameof(temperature), "The temperature must be positive.");
        if (alpha is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(alpha), "alpha must be in [0, 1].");
        if (labelSmoothing is < 0 or >= 1 || double.IsNaN(labelSmoothing)) throw new ArgumentOutOfRangeException(nameof(labelSmoothing), "Label smoothing must be in [0, 1).");
        Temperature = temperature;
        Alpha = alpha;
        LabelSmoothing = labelSmoothing;
    }

    public double Temperature { get; }
    public double Alpha { get; }
    public double LabelSmoothing { get; }

    /// <param name="studentLogits">[batch, classes]</param>
    /// <param name="teacherLogits">[batch, classes], no gradient needed</param>
    /// <param name="labels">[batch] int64 class indices, or null for pure KD</param>
    public Tensor Compute(Tensor studentLogits, Tensor teacherLogits, Tensor? labels) =>
        ComputeFromTeacherLogProbabilities(studentLogits, TeacherLogProbabilities(teacherLogits), labels);

    /// <summary>
    /// The teacher's side of the soft term, <c>log_softmax(t/T)</c> per row: for targets that stay fixed it is computed
    /// once for all rows instead of on every batch (row by row, so the values are the same either way).
    /// </summary>
    /// <param name="teacherLogits">[rows, classes] or [rows, ...] (flattened per row)</param>
    public Tensor TeacherLogProbabilities(Tensor teacherLogits) =>
        F.log_softmax(teacherLogits.reshape(teacherLogits.shape[0], -1).detach().div(Kept.Of(Temperature)), 1);

    /// <summary><see cref="Compute"/> with the teacher's side given as <see cref="TeacherLogProbabilities"/> of its logits.</summary>
    public Tensor ComputeFromTeacherLogProbabilities(Tensor studentLogits, Tensor teacherLogProbabilities, Tensor? labels)
    {
        long batch = studentLogits.shape[0];
        var s = studentLogits.reshape(batch, -1);
        var logPs = F.log_softmax(s.div(Kept.Of(Temperature)), 1);
        var logPt = teacherLogProbabilities;
        // KL(p_t || p_s) summed over classes, averaged over the batch.
        var kl = logPt.exp().mul(logPt.sub(logPs)).sum().div(Kept.Of(batch));
        var soft = kl.mul(Kept.Of(Temperature * Temperature));
        if (labels is null || Alpha >= 1.0) return soft;
        var hard = F.cross_entropy(s, labels, label_smoothing: LabelSmoothing);
        return soft.mul(Kept.Of(Alpha)).add(hard.mul(Kept.Of(1 - Alpha)), Kept.One);
    }

    /// <summary>
    /// Hard-label KD, for a teacher that gives only its predicted class: cross-entropy on the teacher's labels, mixed
    /// with the true labels (when given) by alpha as the soft term would be.
    /// </summary>
    public Tensor ComputeHard(Tensor studentLogits, Tensor teacherLabels, Tensor? labels)
    {
        var s = studentLogits.reshape(studentLogits.shape[0], -1);
        var mimic = F.cross_entropy(s, teacherLabels);
        if (labels is null || Alpha >= 1.0) return mimic;
        return mimic.mul(Kept.Of(Alpha)).add(F.cross_entropy(s, labels, label_smoothing: LabelSmoothing).mul(Kept.Of(1 - Alpha)), Kept.One);
    }
}
