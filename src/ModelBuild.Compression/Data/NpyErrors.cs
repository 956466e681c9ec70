using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Data;

/// <summary>The MB01xx errors of the .npy/.npz readers (listed in docs/diagnostics.md).</summary>
public static class NpyErrors
{
    public static ModelBuildException Missing(string path) => new("MB0101", $"The data file '{path}' does not exist.", "Check the path; relative paths are resolved against the project folder (build) or the current directory (CLI).", path);

    public static ModelBuildException Unreadable(string path, Exception e) => new("MB0101", $"Cannot read the data file '{path}': {e.Message}.", "Check that the file is readable by this user and not locked.", path, e);

    public static ModelBuildException Empty(string path) => new("MB0102", $"The data file '{path}' is empty (0 bytes).", "Write the array again with numpy.save; an interrupted write leaves an empty file.", path);

    public static ModelBuildException NotAnNpy(string path) => new("MB0103", $"'{path}' is not a NumPy .npy file (it does not start with the \\x93NUMPY magic).", "Save the array with numpy.save(path, array) (or numpy.savez for several arrays in a .npz).", path);

    public static ModelBuildException Header(string path, string detail) => new("MB0104", $"The .npy header of '{path}' is invalid: {detail}.", "The file is damaged or was not written by numpy; write it again with numpy.save.", path);

    public static ModelBuildException Fortran(string path) => new("MB0105", $"'{path}' stores its array in Fortran (column-major) order, which ModelBuild does not read.", "Save a C-ordered copy: numpy.save(path, numpy.ascontiguousarray(array)).", path);

    public static ModelBuildException Endian(string path, string descr) => new("MB0106", $"'{path}' stores big-endian data (dtype '{descr}'), which ModelBuild does not read.", "Save a little-endian copy: numpy.save(path, array.astype(array.dtype.newbyteorder('<'))).", path);

    public static ModelBuildException DType(string path, string descr) => new("MB0107", $"'{path}' has dtype '{descr}', which ModelBuild does not read (supported: float16/32/64, int8/16/32/64, uint8/16/32/64, bool).", "Convert the array first, e.g. numpy.save(path, array.astype(numpy.float32)).", path);

    public static ModelBuildException Short(string path, long expected, long actual) => new("MB0108", $"'{path}' is truncated: its header promises {expected} data bytes but only {actual} follow.", "The file was cut short (interrupted copy or write); write it again with numpy.save.", path);

    public static ModelBuildException Npz(string path, string detail, Exception? inner = null) => new("MB0109", $"The .npz archive '{path}' cannot be read: {detail}.", "Write it again with numpy.savez (or numpy.savez_compressed) and check the array names.", path, inner);
}
