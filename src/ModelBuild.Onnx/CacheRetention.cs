namespace ModelBuild.Onnx;

/// <summary>
/// Keeps a local cache folder from growing without end, the way Gradle's local build cache does: each hit marks its
/// entry used (the entry's last-write time), and at most once a day per folder the entries not used within the
/// retention are removed. An entry is a folder named by its 64-hex key (results, stage outputs) or, in a teacher
/// endpoint's answers folder, a file <c>&lt;key&gt;.json</c>; staging folders, lock files and anything else stay.
/// BCL and <see cref="AtomicFile"/> only: compiled into ModelBuild.Tasks too, which trims the folders a build owns.
/// </summary>
public static class CacheRetention
{
    /// <summary>The retention when nothing else is set (ModelBuildCacheRetentionDays).</summary>
    public const int DefaultDays = 30;
    /// <summary>Above this (100 years) a retention means "keep every entry", as 0 does; the dates would not compute.</summary>
    public const int MaxDays = 36500;
    /// <summary>How often a folder is looked through.</summary>
    public static readonly TimeSpan TrimInterval = TimeSpan.FromDays(1);
    /// <summary>The stage cache's sub-folder of a teacher endpoint's answers, whose entries are files (the worker writes it, the task trims it).</summary>
    public const string TeacherAnswersFolder = "teacher-answers";
    /// <summary>The file whose last-write time says when the folder was last looked through.</summary>
    public const string MarkerFile = ".modelbuild-trimmed";
    /// <summary>The file name a hit creates and deletes in an entry folder it may not set the time of (see <see cref="MarkUsed"/>).</summary>
    private const string TouchPrefix = ".used.";

    /// <summary>
    /// Marks an entry used now. Called before the entry is read, so that a trim running at the same time in another
    /// build (which reads the time first) is less likely to take it away mid-read. On Unix only a file's owner may set
    /// its time; in a cache shared by several users a folder entry is then renewed by adding and removing a file in it,
    /// and a file entry by a fresh copy renamed over it, which need only write access to the folder. A cache this
    /// process cannot write (a read-only share) is left as it is.
    /// </summary>
    public static void MarkUsed(string entry)
    {
        try
        {
            if (Directory.Exists(entry))
            {
                try { Directory.SetLastWriteTimeUtc(entry, DateTime.UtcNow); }
                catch (UnauthorizedAccessException)
                {
                    var touch = Path.Combine(entry, $"{TouchPrefix}{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
                    File.WriteAllBytes(touch, []);
                    File.Delete(touch);
                }
            }
            else if (File.Exists(entry))
            {
                try { File.SetLastWriteTimeUtc(entry, DateTime.UtcNow); }
                catch (UnauthorizedAccessException) { AtomicFile.Copy(entry, entry); } // a fresh copy renamed over it: needs only the folder's write access
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Whether <paramref name="fileName"/> is the short-lived file <see cref="MarkUsed"/> may put in an entry (not part of it).</summary>
    public static bool IsTouchFile(string fileName) => fileName.StartsWith(TouchPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Removes the entries of <paramref name="directory"/> not used for <paramref name="retentionDays"/> days, when the
    /// folder was not looked through in the last day; <paramref name="answerFiles"/>: the entries are also
    /// <c>&lt;key&gt;.json</c> files (a teacher endpoint's answers). Returns how many entries were removed; null when
    /// nothing was due (or the retention is 0 or less, or above <see cref="MaxDays"/>: keep every entry). The cache never
    /// fails a build: an entry that cannot be removed stays. A folder is renamed away before it is deleted, so a build
    /// that finds it afterwards finds no entry rather than part of one.
    /// </summary>
    public static int? TrimIfDue(string directory, int retentionDays, bool answerFiles = false, DateTime? utcNow = null, CancellationToken cancel = default)
    {
        if (retentionDays is <= 0 or > MaxDays || !Directory.Exists(directory)) return null;
        var now = utcNow ?? DateTime.UtcNow;
        var marker = Path.Combine(directory, MarkerFile);
        try
        {
            // A marker from the future (a machine whose clock ran ahead) does not stop trims for good.
            var sinceLast = File.Exists(marker) ? now - File.GetLastWriteTimeUtc(marker) : TimeSpan.MaxValue;
            if (sinceLast >= TimeSpan.Zero && sinceLast < TrimInterval) return null;
            // The marker first, written by rename (any user with write access to the folder can replace it, and it
            // gets a fresh time): two builds finishing together mostly look through the folder once.
            AtomicFile.WriteAllBytes(marker, []);
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
                if (cancel.IsCancellationRequested) break;
                if (Directory.GetLastWriteTimeUtc(folder) >= cutoff) continue;
                if (AtomicFile.DiscardDirectory(folder)) removed++;
            }
            if (answerFiles)
                foreach (var file in Directory.EnumerateFiles(directory, "*.json").Where(f => IsKey(Path.GetFileNameWithoutExtension(f))).ToList())
                {
                    if (cancel.IsCancellationRequested) break;
                    if (File.GetLastWriteTimeUtc(file) >= cutoff) continue;
                    try { File.Delete(file); removed++; }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
                }
            // What a discard renamed but could not delete (a file held open, a permission), this run's or an earlier one's.
            foreach (var leftover in Directory.EnumerateDirectories(directory, "*.discarded.tmp").ToList())
            {
                if (cancel.IsCancellationRequested) break;
                try { Directory.Delete(leftover, recursive: true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return removed;
    }

    /// <summary>
    /// <see cref="TrimIfDue"/> for a stage cache (<c>--stage-cache</c>) and the teacher answers kept inside it; returns
    /// each folder looked through with the number of entries removed.
    /// </summary>
    public static IReadOnlyList<(string Directory, int Removed)> TrimStageCacheIfDue(string stageDirectory, int retentionDays, CancellationToken cancel = default)
    {
        var trimmed = new List<(string, int)>();
        foreach (var (folder, answers) in new[] { (stageDirectory, false), (Path.Combine(stageDirectory, TeacherAnswersFolder), true) })
            if (TrimIfDue(folder, retentionDays, answers, cancel: cancel) is { } removed)
                trimmed.Add((folder, removed));
        return trimmed;
    }

    /// <summary>A content key as the caches name entries: 64 hexadecimal digits (SHA-256).</summary>
    public static bool IsKey(string name) => name.Length == 64 && name.All(Uri.IsHexDigit);
}
