using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Text;

namespace ModelBuild.Compression.Data.Text;

/// <summary>The MB014x errors of text data: tokenizer and labels files, text files, and how text meets the model.</summary>
public static class TextDataErrors
{
    internal static ModelBuildException Tokenizer(TokenizerFileException e) => new("MB0140", $"The tokenizer file {e.Message}", "Give a WordPiece vocab.txt (one token per line), a Hugging Face tokenizer.json, a SentencePiece .model or a .tiktoken file (--tokenizer, Tokenizer in MSBuild).", e.FilePath, e);

    public static ModelBuildException NotListed(string data, int line, string label, string labelsFile, IReadOnlyList<string> names) => new("MB0141", $"'{data}' line {line}: the label '{DataErrors.Shorten(label)}' is not one of the {names.Count} names in '{labelsFile}' ({string.Join(", ", names.Take(6))}{(names.Count > 6 ? ", ..." : "")}).", "Fix the label in the data file, or add the class to the labels file (index = class id; the model's class order must not change).", data);

    public static ModelBuildException Empty(string data, int line) => new("MB0142", $"'{data}' line {line}: the text is empty.", "Remove the row or give it text; a model cannot be evaluated on an empty sequence.", data);

    public static ModelBuildException LabelsFile(string path, int? line, string detail, Exception? inner = null) => new("MB0143", $"The labels file '{path}'{(line is null ? "" : $" line {line}")} cannot be used: {detail}.", "Write a JSON list of class names (index = class id), e.g. [\"cancel\", \"book\"], or give a Hugging Face config.json with id2label (--labels, Labels in MSBuild).", path, inner);

    public static ModelBuildException Column(string data, string? column, IReadOnlyList<string> header) => new("MB0144", column is null ? $"'{data}' has several columns ({string.Join(", ", header.Select(h => $"'{h}'"))}) and no text column was named." : $"The text column '{column}' is not in '{data}' (its header has {string.Join(", ", header.Select(h => $"'{h}'"))}).", "Name the column holding the text with --text-column (TextColumn in MSBuild, textColumn in a recipe); the first line of a text file is its header.", data);

    public static ModelBuildException Input(string model, string input, string detail) => new("MB0145", $"The model '{model}' has the input '{input}', which a tokenizer cannot fill: {detail}.", "Text data fills input_ids, attention_mask and token_type_ids (int32 or int64, [batch, sequence]); give other models their inputs as .npy/.npz.", model);

    public static ModelBuildException MaxLength(string detail) => new("MB0146", $"--max-length is not valid: {detail}.", "Leave --max-length out (the model's fixed sequence length, else the longest text, at most 512) or give a length the model accepts.");

    public static ModelBuildException NoTokenizer(string data, string detail) => new("MB0147", $"'{data}': {detail}.", "Give the tokenizer the model was trained with (--tokenizer vocab.txt | tokenizer.json | .model; Tokenizer in MSBuild, tokenizer in a recipe), or drop the text options.", data);

    internal static ModelBuildException Normalization(string data, int? line, string text) => new("MB0148", $"'{data}'{(line is null ? "" : $" line {line}")}: '{DataErrors.Shorten(text)}' has accented characters, and accent stripping needs Unicode normalization, which this process lacks (it runs with InvariantGlobalization).", "Run ModelBuild (and the app that tokenizes) with InvariantGlobalization off and ICU installed (libicu), or give text without accents.", data);
}
