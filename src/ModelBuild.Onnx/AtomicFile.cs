using System.Text;

namespace ModelBuild.Onnx;

/// <summary>
/// The one way ModelBuild publishes a file or a folder: readers see the old content or the complete new one, never a
/// part. A file is written to a temporary file in the same folder and renamed over the target; a folder (a cache entry)
/// is filled under a staging name and renamed into place, and the first of two concurrent writers wins.
/// BCL only: this file is compiled into ModelBuild.Tasks too (as source: the task assembly loads in the MSBuild node and
/// must not bring OnnxSharp or protobuf along), so the task, the worker and the ONNX layer publish the same way.
/// </summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        byte[] copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    /// <summary>UTF-8 without a byte order mark, as <see cref="File.WriteAllText(string, string)"/>.</summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));

    /// <summary>Each line followed by the platform's newline, as <see cref="File.WriteAllLines(string, IEnumerable{string})"/>.</summary>
    public static void WriteAllLines(string path, IEnumerable<string> lines)
    {
        var text = new StringBuilder();
        foreach (var line in lines) text.Append(line).Append(Environment.NewLine);
        WriteAllText(path, text.ToString());
    }

    /// <summary>
    /// Copies <paramref name="source"/> over <paramref name="destination"/>. The copy gets a fresh timestamp: it is newer
    /// than its inputs, which is what MSBuild's Inputs/Outputs check compares.
    /// </summary>
    public static void Copy(string source, string destination) => Write(destination, target =>
    {
        using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        input.CopyTo(target);
    });

    /// <summary>
    /// A fresh, empty folder beside where <paramref name="name"/> will be published in <paramref name="parent"/>. Its
    /// name carries the machine and process, so <see cref="RemoveAbandonedStaging"/> can tell a dead writer's folder.
    /// </summary>
    public static string NewStagingDirectory(string parent, string name)
    {
        var staging = Path.Combine(Path.GetFullPath(parent), $"{name}.{Environment.MachineName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(staging);
        return staging;
    }

    /// <summary>
    /// Renames a finished staging folder to <paramref name="destination"/>. When another writer published it first,
    /// theirs is equally valid: this staging folder is deleted and false returned.
    /// </summary>
    public static bool PublishDirectory(string staging, string destination)
    {
        try
        {
            Directory.Move(staging, destination);
            return true;
        }
        catch (IOException) when (Directory.Exists(destination))
        {
            try { Directory.Delete(staging, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            return false;
        }
    }

    /// <summary>
    /// Removes a published folder: renamed away first, so no reader picks it up half-deleted. True when this call
    /// removed it whole; false when another process removed or replaced it first, or its renamed remains could not be
    /// deleted (a file held open, a permission: CacheRetention sweeps those later). Either way it is no longer used.
    /// </summary>
    public static bool DiscardDirectory(string directory)
    {
        var doomed = $"{directory}.{Environment.ProcessId}.{Guid.NewGuid():N}.discarded.tmp";
        try
        {
            Directory.Move(directory, doomed);
            Directory.Delete(doomed, recursive: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// A writer killed (kill -9, a crash) while staging leaves its folder: removes those in <paramref name="parent"/> of
    /// this machine whose process is gone (only those of <paramref name="name"/> when given). "This machine" is the host
    /// name, which containers with their own process ids can share: a caller that holds a lock on
    /// <paramref name="name"/> (the model cache's per-key lock) passes it, so no other live writer can own such a folder.
    /// Without one, at worst another writer's publish fails, which never loses a result that was already published.
    /// </summary>
    public static void RemoveAbandonedStaging(string parent, string? name = null)
    {
        if (!Directory.Exists(parent)) return;
        foreach (var staging in Directory.EnumerateDirectories(parent, $"{name ?? "*"}.{Environment.MachineName}.*.tmp"))
        {
            var parts = Path.GetFileName(staging).Split('.');
            if (parts.Length < 4 || !int.TryParse(parts[^3], out var pid) || IsRunning(pid)) continue;
            try { Directory.Delete(staging, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or NotSupportedException)
        {
            // Another user's process (access denied), or one that cannot be asked: it may be alive, so keep its folder.
            return true;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
