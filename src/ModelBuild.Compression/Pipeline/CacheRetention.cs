using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pipeline;

/// <summary>
/// Keeps a local cache folder from growing without end, the way Gradle's local build cache does: each hit marks its
/// entry used (the entry's last-write time), and at most once a day per folder the entries not used within the
/// retention are removed. An entry is a folder named by its 64-hex key (results, stage outputs) or a file
/// <c>&lt;key&gt;.json</c> (a teacher endpoint's answers); staging folders, lock files and anything else stay. A folder
/// is renamed away before it is deleted, so a build that reads the cache at that moment sees the whole entry or none.
/// </summary>
public static class CacheRetention
{
    /// <summary>The retention when nothing else is set (ModelBuildCacheRetentionDays).</summary>
    public const int DefaultDays = 30;
    /// <summary>How often a folder is looked through.</summary>
    public static readonly TimeSpan TrimInterval = TimeSpan.FromDays(1);
    /// <summary>The file whose last-write time says when the folder was last looked through.</summary>
    public const string MarkerFile = ".modelbuild-trimmed";

    /// <summary>Marks an entry used now. A cache this process cannot write (a read-only share) is left as it is.</summary>
    public static void MarkUsed(string entry)
    {
        try
        {
            if (Directory.Exists(entry)) Directory.SetLastWriteTimeUtc(entry, DateTime.UtcNow);
            else if (File.Exists(entry)) File.SetLastWriteTimeUtc(entry, DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Removes the entries of <paramref name="directory"/> not used for <paramref name="retentionDays"/> days, when the
    /// folder was not looked through in the last day. Returns how many were removed; null when nothing was due (or
    /// retention is 0 or less: keep every entry). The cache never fails a build: an entry that cannot be removed stays.
    /// </summary>
    public static int? TrimIfDue(string directory, int retentionDays, DateTime? utcNow = null)
    {
        if (retentionDays <= 0 || !Directory.Exists(directory)) return null;
        var now = utcNow ?? DateTime.UtcNow;
        var marker = Path.Combine(directory, MarkerFile);
        try
        {
            if (File.Exists(marker) && now - File.GetLastWriteTimeUtc(marker) < TrimInterval) return null;
            // The marker first: two builds finishing together look through the folder once.
            File.WriteAllBytes(marker, []);
            File.SetLastWriteTimeUtc(marker, now);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var cutoff = now - TimeSpan.FromDays(retentionDays);
        var removed = 0;
        try
        {
            foreach (var folder in Directory.EnumerateDirectories(directory).Where(d => IsKey(Path.GetFileName(d))).ToList())
            {
                if (Directory.GetLastWriteTimeUtc(folder) >= cutoff) continue;
                AtomicFile.DiscardDirectory(folder);
                if (!Directory.Exists(folder)) removed++;
            }
            foreach (var file in Directory.EnumerateFiles(directory, "*.json").Where(f => IsKey(Path.GetFileNameWithoutExtension(f))).ToList())
            {
                if (File.GetLastWriteTimeUtc(file) >= cutoff) continue;
                try { File.Delete(file); removed++; }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return removed;
    }

    /// <summary>A content key as the caches name entries: 64 hexadecimal digits (SHA-256).</summary>
    public static bool IsKey(string name) => name.Length == 64 && name.All(Uri.IsHexDigit);
}
