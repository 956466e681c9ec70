using System.Security.Cryptography;
using System.Text;

namespace ModelBuild.Compression.Pipeline.Contract;

/// <summary>
/// The content hash of a data input, shared (as source) by the build task's cache key and the engine's stage cache:
/// a file's bytes; for a folder (images, TensorProto files) every file under it, by relative path ('/'-separated,
/// ordinal order) and bytes, so renaming a class folder or editing one image changes it and moving the folder does not.
/// <c>file.npz:name</c> hashes the archive and the member name; <c>generated[:N]</c> (inputs generated from the model, which is hashed
/// itself) is its own text. BCL only: this file is compiled into ModelBuild.Tasks too.
/// </summary>
public static class DataInputHash
{
    /// <summary>The data spec that asks for inputs generated from the model's signature: <c>generated</c> or <c>generated:N</c>.</summary>
    public const string Generated = "generated";

    public static bool IsGenerated(string spec) =>
        spec.Equals(Generated, StringComparison.OrdinalIgnoreCase) || spec.StartsWith(Generated + ":", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The one reading of the <c>file.npz:name</c> syntax: the archive and the member when <paramref name="spec"/> names
    /// one, else null. <c>colon &gt; 1</c> keeps a Windows drive letter (C:\...) from reading as a member name.
    /// </summary>
    public static (string Archive, string Member)? NpzMember(string spec)
    {
        var colon = spec.LastIndexOf(':');
        return colon > 1 && spec[..colon].EndsWith(".npz", StringComparison.OrdinalIgnoreCase) ? (spec[..colon], spec[(colon + 1)..]) : null;
    }

    public static string Compute(string path)
    {
        if (IsGenerated(path)) return path.ToLowerInvariant();
        if (Directory.Exists(path))
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (var (relative, full) in FolderFiles(path))
            {
                sha.AppendData(Encoding.UTF8.GetBytes(relative + "\n"));
                sha.AppendData(Encoding.ASCII.GetBytes(HashFile(full) + "\n"));
            }
            return "sha256-dir:" + Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
        }
        // The member name decides which array is read, so it is part of the hash (e.npz:a and e.npz:b differ).
        if (!File.Exists(path) && NpzMember(path) is { } npz && File.Exists(npz.Archive)) return "sha256:" + HashFile(npz.Archive) + ":" + npz.Member;
        return "sha256:" + HashFile(path);
    }

    /// <summary>The files a data input consists of: itself, or every file under the folder (sorted).</summary>
    public static IReadOnlyList<string> Files(string path)
    {
        if (IsGenerated(path)) return [];
        if (Directory.Exists(path)) return FolderFiles(path).Select(f => f.Full).ToList();
        return [!File.Exists(path) && NpzMember(path) is { } npz && File.Exists(npz.Archive) ? npz.Archive : path];
    }

    static IEnumerable<(string Relative, string Full)> FolderFiles(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => (Relative: Path.GetRelativePath(folder, f).Replace('\\', '/'), Full: f))
            .OrderBy(f => f.Relative, StringComparer.Ordinal);

    static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }
}
