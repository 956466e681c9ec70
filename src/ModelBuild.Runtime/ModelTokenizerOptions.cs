namespace ModelBuild.Runtime;

/// <summary>
/// A tokenizer for one model, so its input class can carry text (<c>string Text</c>) instead of token ids: the
/// tokenizer fills the model's <c>input_ids</c>, <c>attention_mask</c> and <c>token_type_ids</c> (by those names,
/// int32 or int64 as declared) exactly as ModelBuild's build-time reader does (Microsoft.ML.Tokenizers; a BERT
/// <c>vocab.txt</c> splits text as Hugging Face's BERT tokenizer does).
/// </summary>
public sealed class ModelTokenizerOptions
{
    /// <summary><c>vocab.txt</c> (WordPiece/BERT; <c>tokenizer_config.json</c> beside it), <c>tokenizer.json</c>, a SentencePiece <c>.model</c> or <c>.tiktoken</c>.</summary>
    public required string TokenizerPath { get; init; }

    /// <summary>Tokens per sequence at most (special tokens included); null: the model's fixed length, else 512.</summary>
    public int? MaxLength { get; init; }

    /// <summary>
    /// Pad every row to <see cref="MaxLength"/> (as the model was fed at training time) instead of to the longest row
    /// of the call; only for models whose sequence axis is dynamic. Padding to the longest row is faster.
    /// </summary>
    public bool PadToMaxLength { get; init; }
}
