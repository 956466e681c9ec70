using ModelBuild.Compression.Data;

namespace ModelBuild.Compression.Data.Text;

/// <summary>
/// Texts as token ids, [rows, length] row-major, padded with the tokenizer's pad id (mask 0, type 0), and the class ids
/// when the file has labels. <see cref="Tensors"/> names them after the model's inputs.
/// </summary>
public sealed record TokenizedText(string Path, int Count, int Length, long[] InputIds, long[] AttentionMask, long[] TokenTypeIds,
    long[]? Labels, string? LabelSource, IReadOnlyList<TextModelInput> Inputs, string TokenizerKind)
{
    /// <summary>The texts as read, one per row (a teacher endpoint that tokenizes for itself is sent these).</summary>
    public IReadOnlyList<string>? Texts { get; init; }

    /// <summary>The tensors keyed by model input name (int64 values; <see cref="DataTensor.SourceDtype"/> says what the model declares).</summary>
    public IReadOnlyDictionary<string, DataTensor> Tensors => Inputs.ToDictionary(i => i.Name, i => new DataTensor(Path, [Count, Length], null, i.Role switch
    {
        "input_ids" => InputIds,
        "attention_mask" => AttentionMask,
        _ => TokenTypeIds,
    }, i.IsInt32 ? "int32" : "int64"), StringComparer.Ordinal);

    /// <summary>What was filled, for the progress line and reports: "input_ids, attention_mask, token_type_ids (int64, 32 tokens)".</summary>
    public string Describe() =>
        $"{string.Join(", ", Inputs.Select(i => i.Name))} ({(Inputs.All(i => i.IsInt32) ? "int32" : Inputs.All(i => !i.IsInt32) ? "int64" : "int32/int64")}, {Length} tokens) by {TokenizerKind}";
}
