namespace ModelBuild.Tasks.Cache;

/// <summary>Writes and copies files so that a reader sees the old file or the whole new one, never a part (temp + rename).</summary>
internal static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        var temp = TempBeside(path);
        try
        {
            File.WriteAllText(temp, text);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static void WriteAllLines(string path, IEnumerable<string> lines)
    {
        var temp = TempBeside(path);
        try
        {
            File.WriteAllLines(temp, lines);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public static void Copy(string source, string destination)
    {
        var temp = TempBeside(destination);
        try
        {
            File.Copy(source, temp, overwrite: true);
            // A fresh timestamp: the copy is newer than its inputs, which is what the target's Inputs/Outputs check.
            File.SetLastWriteTimeUtc(temp, DateTime.UtcNow);
            File.Move(temp, destination, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static string TempBeside(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        return $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
    }
}
