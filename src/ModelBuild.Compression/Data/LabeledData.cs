using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Compression.Data;

/// <summary>
/// Inputs (samples on axis 0) and, when the data carries them or a labels file was given, one class id per sample.
/// <see cref="LabelSource"/> names where the labels came from (the labels file, or the data itself).
/// </summary>
public sealed record LabeledData(DataTensor Inputs, long[]? Labels, string? LabelSource)
{
    /// <summary>The labels as a [samples] int64 tensor (what <see cref="ModelEvaluator"/> takes), or null.</summary>
    public DataTensor? LabelTensor => Labels is null ? null : new DataTensor(LabelSource ?? Inputs.Path, [Labels.Length], null, Labels, "int64");
}
