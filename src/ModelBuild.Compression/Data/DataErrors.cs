using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Data;

/// <summary>
/// The MB01xx errors of the CSV/TSV, image-folder, TensorProto-folder and token-id readers and of label handling
/// (the .npy/.npz ones are in <see cref="NpyErrors"/>). Each is listed in docs/diagnostics.md.
/// </summary>
public static class DataErrors
{
    public static ModelBuildException Missing(string path) => new("MB0101", $"The data file or folder '{path}' does not exist.", "Check the path; relative paths are resolved against the project folder (build) or the current directory (CLI).", path);

    public static ModelBuildException Unreadable(string path, Exception e) => new("MB0101", $"The data '{path}' cannot be read: {e.Message}", "Check that the file (or every file in the folder) is readable by this user and not locked by another program.", path, e);

    public static ModelBuildException Unknown(string path, string detail) => new("MB0110", $"ModelBuild cannot tell the format of '{path}': {detail}.", "Use .npy/.npz, .csv/.tsv/.txt, a token-id file (.ids/.tokens, or .txt for an integer-input model), a folder of class subfolders of images, or a folder of TensorProto .pb files (test_data_set_*/input_0.pb).", path);

    public static ModelBuildException NonNumeric(string path, int line, int column, string cell) => new("MB0111", $"'{path}' line {line}, column {column}: '{Shorten(cell)}' is not a number (features must be numeric, '.' decimal point).", "Encode the column as numbers before saving, drop it, or name it with --label-column if it holds the class.", path);

    public static ModelBuildException Ragged(string path, int line, int columns, int expected) => new("MB0112", $"'{path}' line {line} has {columns} columns but the first row has {expected}.", "Give every row the same number of delimiter-separated cells (check for stray commas or tabs).", path);

    public static ModelBuildException LabelColumn(string path, string column, string detail) => new("MB0113", $"The label column '{column}' is not in '{path}': {detail}.", "Name a header column or give a 0-based column index with --label-column (LabelColumn in MSBuild, labelColumn in a recipe).", path);

    public static ModelBuildException Twice(string data, string labels) => new("MB0114", $"'{data}' carries its own labels (label column or class subfolders) and labels were also given in '{labels}'.", "Give the labels one way only: drop the labels option, or drop the label column / use an unlabeled folder.", labels);

    public static ModelBuildException Empty(string path, string what) => new("MB0115", $"'{path}' holds no samples: {what}.", "Add samples, or point the option at the right file or folder.", path);

    public static ModelBuildException Image(string path, string? detail = null, Exception? inner = null) => new("MB0116", $"The image '{path}' cannot be decoded{(detail is null ? "" : ": " + detail)}.", "Replace or remove the file; PNG, JPEG, BMP, GIF and WebP are read.", path, inner);

    public static ModelBuildException Mixed(string path) => new("MB0117", $"The image folder '{path}' holds both images and subfolders.", "Use one subfolder per class (labeled), or only images (unlabeled), not both.", path);

    public static ModelBuildException NotImageModel(string data, string input, long[] dims) => new("MB0118", $"'{data}' is an image folder but the model input '{input}' has shape [{string.Join(",", dims.Select(d => d <= 0 ? "?" : d.ToString()))}], not [N,1|3,H,W] float.", "Use image folders with image models (NCHW, 1 or 3 channels), or save the inputs as .npy.", data);

    public static ModelBuildException TensorProto(string path, string detail, Exception? inner = null) => new("MB0119", $"The TensorProto file '{path}' cannot be used: {detail}.", "Write each sample with onnx.numpy_helper.from_array(x).SerializeToString(); all samples need one shape and element type.", path, inner);

    public static ModelBuildException Token(string path, int line, int column, string cell) => new("MB0120", $"'{path}' line {line}, token {column}: '{Shorten(cell)}' is not a non-negative integer token id.", "Write one sequence per line as integer ids separated by spaces or commas (tokenize the text first).", path);

    public static ModelBuildException EmptyLine(string path, int line) => new("MB0121", $"'{path}' line {line} holds no token ids.", "Remove blank lines between sequences, or write the pad id for an empty sequence.", path);

    public static ModelBuildException LabelValue(string path, string detail) => new("MB0122", $"The labels in '{path}' are not class ids: {detail}.", "Labels must be integer class ids 0..K-1 (or class names in a label column).", path);

    public static ModelBuildException Option(string name, string value, string expected) => new("MB0123", $"{name} '{value}' is not valid: {expected}.", $"Fix {name} (see docs/cli.md).");

    public static ModelBuildException Sizes(string folder, string first, string other) => new("MB0124", $"The images in '{folder}' differ in size ({first} vs {other}) and the model input has no fixed height and width.", "Resize the images to one size, or export the model with a fixed input height and width.", folder);

    /// <summary>A cell or text quoted in a cause, cut to 40 characters.</summary>
    internal static string Shorten(string text) => text.Length <= 40 ? text : text[..37] + "...";
}
