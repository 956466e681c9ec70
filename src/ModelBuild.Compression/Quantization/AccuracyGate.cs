using System.Globalization;
using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The accuracy side of the quantizer's decision, against its float input: at most <see cref="MaxDrop"/> accuracy
/// points lost (when labels exist) and at least <see cref="MinAgreement"/> percent top-1 agreement.
/// </summary>
public sealed record AccuracyGate(double? MaxDrop, double? MinAgreement)
{
    public bool IsActive => MaxDrop is not null || MinAgreement is not null;

    /// <summary>The parts of this gate the two results let it measure (a drop needs labels, agreement a reference).</summary>
    public IEnumerable<string> Checked(EvaluationResult floatResult, EvaluationResult candidate)
    {
        if (MaxDrop is not null && floatResult.Accuracy is not null && candidate.Accuracy is not null) yield return "accuracy drop";
        if (MinAgreement is not null && candidate.Agreement is not null) yield return "agreement";
    }

    /// <summary>Null when the candidate passes, else the reason in one sentence.</summary>
    public string? Check(EvaluationResult floatResult, EvaluationResult candidate)
    {
        if (MaxDrop is { } max && floatResult.Accuracy is { } fa && candidate.Accuracy is { } ca && fa - ca > max + 1e-9)
            return string.Create(CultureInfo.InvariantCulture, $"loses {fa - ca:0.00} accuracy points (allowed {max:0.00})");
        if (MinAgreement is { } min && candidate.Agreement is { } agreement && agreement < min - 1e-9)
            return string.Create(CultureInfo.InvariantCulture, $"agrees with the float model on {agreement:0.00}% (required {min:0.00}%)");
        return null;
    }
}
