using System.Text;
using System.Text.RegularExpressions;

namespace ModelBuild.Runtime.Tests.Support;

/// <summary>
/// Reads a little-endian float32 C-order .npy (the test split). Private to the tests: the runtime must not depend
/// on ModelBuild.Compression's readers.
/// </summary>
internal static partial class NpyReader
{
    public static float[][] ReadFloat32Matrix(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
        {
            throw new InvalidDataException($"{path} is not a .npy file");
        }
        int major = bytes[6];
        int headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        int headerStart = major == 1 ? 10 : 12;
        var header = Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        if (!header.Contains("'descr': '<f4'") || header.Contains("'fortran_order': True"))
        {
            throw new InvalidDataException($"{path}: only little-endian float32 C-order is supported ({header.Trim()})");
        }
        var shape = ShapePattern().Match(header).Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        int rows = shape[0], cols = shape[1];
        var data = new float[rows][];
        int offset = headerStart + headerLength;
        for (int r = 0; r < rows; r++)
        {
            data[r] = new float[cols];
            Buffer.BlockCopy(bytes, offset + r * cols * 4, data[r], 0, cols * 4);
        }
        return data;
    }

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
