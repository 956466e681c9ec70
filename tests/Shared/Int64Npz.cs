using System.IO.Compression;
using System.Text;

namespace ModelBuild.TestSupport;

/// <summary>
/// Reads the int64 C-order [rows, length] arrays of a .npz (e.g. intent-bert's test.npz token ids) for tests that feed
/// ONNX Runtime directly: the runtime has no .npy reader and the test projects do not reference the engine's.
/// Compiled into every test project (Directory.Build.targets) and copied into the app IntentBertTextBuildTests builds.
/// </summary>
internal static class Int64Npz
{
    /// <summary>Each array by name (without ".npy"); InvalidDataException for an array that is not int64.</summary>
    public static Dictionary<string, (long[] Data, int Rows, int Length)> Read(string path)
    {
        var result = new Dictionary<string, (long[], int, int)>();
        using var zip = ZipFile.OpenRead(path);
        foreach (var entry in zip.Entries)
        {
            using var stream = entry.Open();
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var bytes = memory.ToArray();
            int major = bytes[6];
            int headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
            int headerStart = major == 1 ? 10 : 12;
            var header = Encoding.ASCII.GetString(bytes, headerStart, headerLength);
            if (!header.Contains("'<i8'", StringComparison.Ordinal)) throw new InvalidDataException(entry.FullName + " is not int64: " + header);
            var shape = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..].Split(')')[0].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s.Trim())).ToArray();
            var data = new long[shape[0] * shape[1]];
            Buffer.BlockCopy(bytes, headerStart + headerLength, data, 0, data.Length * 8);
            result[entry.FullName.Replace(".npy", "", StringComparison.Ordinal)] = (data, shape[0], shape[1]);
        }
        return result;
    }
}
