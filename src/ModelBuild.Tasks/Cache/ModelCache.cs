using ModelBuild.Compression.RemoteCache;
using ModelBuild.Onnx;

namespace ModelBuild.Tasks.Cache;

/// <summary>
/// Compressed models by cache key: the local cache in obj/modelbuild/cache and, when <c>ModelBuildCacheDir</c> is set,
/// a shared one (CI, a team share). An entry is a folder <c>&lt;key&gt;/</c> holding <c>model.onnx</c> and the
/// worker's reports and a manifest of their SHA-256 (checked on every hit); it is made under a temporary name and renamed
/// into place, so an entry that exists is complete.
/// New entries go to the shared cache when there is one (that is where the other builds look), else to the local one.
/// </summary>
internal sealed class ModelCache(string localDirectory, string? sharedDirectory)
{
    public const string ModelFile = "model.onnx";
    public const string ReportFile = "report.json";
    public const string MarkdownReportFile = "report.md";
    public const string HtmlReportFile = "report.html";
    /// <summary>The worker's per-stage cache (<c>--stage-cache</c>), a sub-folder of the primary cache.</summary>
    public const string StageFolder = "stages";

    public string LocalDirectory { get; } = Path.GetFullPath(localDirectory);
    public string? SharedDirectory { get; } = string.IsNullOrWhiteSpace(sharedDirectory) ? null : Path.GetFullPath(sharedDirectory);

    /// <summary>Where new entries and the locks go.</summary>
    public string PrimaryDirectory => SharedDirectory ?? LocalDirectory;

    /// <summary>
    /// Removes, at most once a day per folder, the entries not used for <paramref name="retentionDays"/> days from both
    /// caches, their stage caches and the teacher answers kept there (<see cref="CacheRetention"/>). Returns each folder
    /// looked through with the number of entries removed.
    /// </summary>
    public IReadOnlyList<(string Directory, int Removed)> Trim(int retentionDays, CancellationToken cancel = default)
    {
        var trimmed = new List<(string, int)>();
        foreach (var root in new[] { LocalDirectory, SharedDirectory }.OfType<string>().Distinct(StringComparer.Ordinal))
        {
            if (CacheRetention.TrimIfDue(root, retentionDays, cancel: cancel) is { } removed) trimmed.Add((root, removed));
            trimmed.AddRange(CacheRetention.TrimStageCacheIfDue(Path.Combine(root, StageFolder), retentionDays, cancel));
        }
        return trimmed;
    }

    /// <summary>
    /// The complete, intact entry for <paramref name="key"/> and which cache it is in, or null. An entry whose files
    /// no longer match its manifest (bytes altered on disk, a file missing, no manifest) is never served: it is
    /// removed, <paramref name="onDamaged"/> is told why, and the search goes on as if it were not there.
    /// </summary>
    public (string Directory, string Where)? Find(string key, Action<string, string>? onDamaged = null)
    {
        foreach (var (root, where) in new[] { (LocalDirectory, "local"), (SharedDirectory, "shared") })
        {
            if (root is null) continue;
            var entry = Path.Combine(root, key);
            if (!File.Exists(Path.Combine(entry, ModelFile))) continue;
            CacheRetention.MarkUsed(entry); // before reading: another build's trim reads the time first
            string? problem;
            try
            {
                var manifest = CacheManifest.TryRead(entry);
                problem = manifest is null ? "it has no readable manifest" : manifest.Key != key ? "its manifest names another key" : manifest.Verify(entry);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && !Directory.Exists(entry))
            {
                continue; // taken away while being checked (below)
            }
            if (problem is null) return (entry, where);
            // Gone while being checked: another build's trim (or a damaged-entry discard) took it; a miss, not damage.
            if (!Directory.Exists(entry)) continue;
            onDamaged?.Invoke(entry, problem);
            AtomicFile.DiscardDirectory(entry);
        }
        return null;
    }

    /// <summary>
    /// A fresh folder for the worker to write an entry into; <see cref="Commit"/> publishes it. Called under the key's
    /// lock, so the key's staging folders that a build stopped hard (SIGTERM, kill -9) left are removed first, once their
    /// process is gone: no live build can be writing one.
    /// </summary>
    public string NewStagingDirectory(string key)
    {
        AtomicFile.RemoveAbandonedStaging(PrimaryDirectory, key);
        return AtomicFile.NewStagingDirectory(PrimaryDirectory, key);
    }

    /// <summary>Renames a finished staging folder to its key. Returns the entry folder.</summary>
    public string Commit(string staging, string key)
    {
        var entry = Path.Combine(PrimaryDirectory, key);
        // The manifest (every file's SHA-256) goes in before the rename: an entry that exists can be checked whole.
        AtomicFile.WriteAllText(Path.Combine(staging, CacheManifest.FileName), CacheManifest.ForDirectory("entry", key, staging).ToJson());
        // Someone may have committed the same key first (only possible without the lock, e.g. a stale lock was broken);
        // their entry is equally valid.
        AtomicFile.PublishDirectory(staging, entry);
        return entry;
    }

    /// <summary>
    /// Takes the per-key lock in the primary cache: an exclusive open of <c>&lt;key&gt;.lock</c>. Two builds of the same
    /// inputs serialize here; the second then finds the first one's entry. Polls so that cancellation is honoured.
    /// </summary>
    public static FileStream? TryLock(string directory, string key)
    {
        Directory.CreateDirectory(directory);
        try
        {
            // The lock file is never deleted: deleting it while another process waits on it would let a third take a
            // lock on a new file while the second holds the old one.
            return new FileStream(Path.Combine(directory, key + ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (IsLockConflict(e))
        {
            return null;
        }
    }

    /// <summary>
    /// Another process holds the file (.NET's FileShare emulation: flock EWOULDBLOCK on Unix, a sharing violation on
    /// Windows). Any other I/O error (a read-only or full disk) is not "another build holds the lock" and must not be
    /// waited on for an hour.
    /// </summary>
    internal static bool IsLockConflict(IOException e) =>
        OperatingSystem.IsWindows() ? (e.HResult & 0xFFFF) is 32 or 33 : e.HResult == (OperatingSystem.IsLinux() ? 11 : 35);

    /// <summary>Null when <paramref name="directory"/> takes a new file, else what went wrong (read-only, full, not a folder).</summary>
    public static string? Unwritable(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".write-probe.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            try
            {
                // A few KiB, flushed to the file system: an empty file can still be created on a full disk.
                using (var stream = new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None))
                {
                    stream.Write(new byte[16384]);
                    stream.Flush(flushToDisk: true);
                }
                return null;
            }
            finally
            {
                try { File.Delete(probe); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }
}
