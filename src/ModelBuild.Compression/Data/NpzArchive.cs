using System.IO.Compression;

namespace ModelBuild.Compression.Data;

/// <summary>
/// Reads a NumPy .npz archive (numpy.savez / savez_compressed: a zip of .npy members) into named arrays.
/// Names are the member names without ".npy" (arr_0, arr_1, ... for positional savez arguments).
/// </summary>
public static class NpzArchive
{
    public static IReadOnlyDictionary<string, NpyArray> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw NpyErrors.Missing(path);
        }
        if (new FileInfo(path).Length == 0)
        {
            throw NpyErrors.Empty(path);
        }
        var result = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
        try
        {
            using var zip = ZipFile.OpenRead(path);
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/'))
                {
                    continue;
                }
                string name = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                using var stream = entry.Open();
                result[name] = NpyArray.Read(stream, $"{path}:{entry.FullName}");
            }
        }
        catch (InvalidDataException e)
        {
            throw NpyErrors.Npz(path, $"it is not a valid zip archive ({e.Message.TrimEnd('.')})", e);
        }
        return result;
    }

    /// <summary>Reads one named array ("x" finds member "x.npy").</summary>
    public static NpyArray Read(string path, string name)
    {
        var all = Read(path);
        return all.TryGetValue(name, out var array)
            ? array
            : throw NpyErrors.Npz(path, $"it has no array named '{name}' (it has: {string.Join(", ", all.Keys)})");
    }

    /// <summary>Writes arrays as an uncompressed .npz (like numpy.savez), atomically.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, NpyArray> arrays)
    {
        ModelBuild.Onnx.AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (name, array) in arrays.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                var entry = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression);
                // A fixed timestamp keeps the archive byte-identical across runs.
                entry.LastWriteTime = new DateTimeOffset(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);
                using var entryStream = entry.Open();
                array.WriteTo(entryStream);
            }
        });
    }
}
