namespace ModelBuild.Onnx.Diagnostics;

/// <summary>
/// The MB00xx errors of the ONNX layer, one factory per code so that every place raising a code says the
/// same thing. The table in docs/diagnostics.md lists them.
/// </summary>
public static class OnnxErrors
{
    public static ModelBuildException ModelFileNotFound(string path) => new("MB0001", $"The ONNX model file '{path}' does not exist.", "Check the path (relative paths are resolved against the current directory or the project folder).", path);

    public static ModelBuildException ModelFileEmpty(string path) => new("MB0002", $"The ONNX model file '{path}' is empty (0 bytes).", "Re-export or re-download the model; an interrupted copy or export often leaves an empty file.", path);

    public static ModelBuildException NotAnOnnxModel(string path, string detail, Exception? inner = null) => new("MB0003", $"'{path}' is not an ONNX model: {detail}.", "Pass a .onnx file (a serialized onnx.ModelProto), not another format such as a PyTorch checkpoint, a TensorFlow graph or an archive.", path, inner);

    public static ModelBuildException ModelTruncated(string path, string detail, Exception? inner = null) => new("MB0004", $"The ONNX model '{path}' is truncated: {detail}.", "The file was cut short (interrupted download, copy or export); fetch or export it again.", path, inner);

    public static ModelBuildException ModelCorrupt(string path, string detail, Exception? inner = null) => new("MB0005", $"The ONNX model '{path}' is corrupt: {detail}.", "The protobuf content is damaged; export or download the model again and compare its checksum.", path, inner);

    public static ModelBuildException CannotAccess(string path, string detail, Exception? inner = null) => new("MB0006", $"Cannot read or write '{path}': {detail}.", "Check that the file and its folder exist, are not locked by another process and are readable/writable by this user.", path, inner);

    public static ModelBuildException ExternalAbsolute(string model, string tensor, string location) => new("MB0010", $"Tensor '{tensor}' of '{model}' stores its data at the absolute path '{location}'; external data must be a path relative to the model's folder.", "Re-save the model with its external data file next to it (relative location), e.g. onnx.save(..., location=\"model.onnx.data\").", model);

    public static ModelBuildException ExternalEscapes(string model, string tensor, string location, string resolved) => new("MB0011", $"Tensor '{tensor}' of '{model}' stores its data at '{location}', which resolves to '{resolved}', outside the model's folder.", "Keep external data files inside the model's folder (no '..' and no symbolic links leading out of it); a model that reaches outside its folder is refused for safety.", model);

    public static ModelBuildException ExternalMissing(string model, string tensor, string location) => new("MB0012", $"Tensor '{tensor}' of '{model}' stores its data in '{location}', which does not exist next to the model.", "Copy the external data file together with the .onnx file (they must stay in the same folder).", model);

    public static ModelBuildException ExternalShort(string model, string tensor, string location, long offset, long length, long fileLength) => new("MB0013", $"Tensor '{tensor}' of '{model}' needs bytes {offset}..{offset + length} of '{location}', but that file has only {fileLength} bytes.", "The external data file is truncated or belongs to another version of the model; copy the matching .onnx and data files again.", model);

    public static ModelBuildException ExternalMalformed(string model, string tensor, string detail) => new("MB0014", $"Tensor '{tensor}' of '{model}' has invalid external data information: {detail}.", "Re-save the model with a current ONNX exporter; each external tensor needs a relative 'location' and non-negative 'offset'/'length'.", model);

    public static ModelBuildException TensorMismatch(string? model, string tensor, string detail) => new("MB0020", $"Tensor '{tensor}'{(model is null ? "" : $" of '{model}'")} is inconsistent: {detail}.", "The model file is damaged or was written by a faulty tool; re-export it.", model);

    public static ModelBuildException TensorType(string tensor, string detail) => new("MB0021", $"Tensor '{tensor}' cannot be read as requested: {detail}.", "Read the tensor with the .NET type that matches its ONNX element type (see TensorElementTypes.ClrTypeOf).", tensor);

    public static ModelBuildException Cycle(string? model, IEnumerable<string> nodes) => new("MB0022", $"The graph{(model is null ? "" : $" of '{model}'")} contains a cycle through node(s) {string.Join(", ", nodes.Take(5))}.", "ONNX graphs must be acyclic; the model is malformed (re-export it) or a graph edit introduced the cycle.", model);
}
