
namespace ModelBuild.Compression.Data;

/// <summary>
/// Inputs (one or many named, samples on axis 0) and, when the data carries them or a labels file was given, one class
/// id per sample. <see cref="LabelSource"/> names where the labels came from (the labels file, or the data itself).
/// </summary>
public sealed record LabeledData(InputSet Inputs, long[]? Labels, string? LabelSource)
{
    /// <summary>For text data read with a tokenizer: the texts the inputs were made from, one per sample.</summary>
    public IReadOnlyList<string>? Texts { get; init; }

    /// <summary>A single unnamed array with its labels (the readers of one-tensor formats).</summary>
    public LabeledData(DataTensor inputs, long[]? labels, string? labelSource) : this(InputSet.Of(inputs), labels, labelSource) { }

    /// <summary>The labels as a [samples] int64 tensor (what <see cref="Evaluation.ModelEvaluator"/> takes), or null.</summary>
    public DataTensor? LabelTensor => Labels is null ? null : new DataTensor(LabelSource ?? Inputs.Path, [Labels.Length], null, Labels, "int64");
}
