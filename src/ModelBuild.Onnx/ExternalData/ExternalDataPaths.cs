using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Onnx.ExternalData;

/// <summary>
/// Resolves an external data location against the model's folder and refuses anything that leaves it:
/// absolute paths (MB0010), '..' and symbolic links that lead outside (MB0011). A model is untrusted input;
/// without this, opening a model could read any file the process can (e.g. location = "../../etc/passwd").
/// </summary>
public static class ExternalDataPaths
{
    public static string Resolve(string baseDirectory, string location, string modelPath, string tensorName)
    {
        if (IsAbsolute(location))
        {
            throw OnnxErrors.ExternalAbsolute(modelPath, tensorName, location);
        }
        string baseFull = Path.GetFullPath(baseDirectory);
        string candidate = Path.GetFullPath(Path.Combine(baseFull, location));
        if (!IsInside(baseFull, candidate))
        {
            throw OnnxErrors.ExternalEscapes(modelPath, tensorName, location, candidate);
        }
        // Symbolic links: compare the real paths, so a link inside the folder pointing outside is refused too.
        string realBase, realCandidate;
        try
        {
            realBase = RealPath(baseFull);
            realCandidate = RealPath(candidate);
        }
        catch (IOException e)
        {
            // e.g. a symbolic link loop: a location that cannot be resolved is not provably inside the folder.
            throw OnnxErrors.ExternalEscapes(modelPath, tensorName, location, $"<unresolvable: {e.Message.TrimEnd('.')}>");
        }
        if (!IsInside(realBase, realCandidate))
        {
            throw OnnxErrors.ExternalEscapes(modelPath, tensorName, location, realCandidate);
        }
        return realCandidate;
    }

    /// <summary>Absolute on any OS: rooted ("/x", "\x"), a drive ("C:..."), or a UNC path.</summary>
    public static bool IsAbsolute(string location) =>
        Path.IsPathRooted(location)
        || location.StartsWith('/') || location.StartsWith('\\')
        || (location.Length >= 2 && char.IsAsciiLetter(location[0]) && location[1] == ':');

    private static bool IsInside(string folder, string path)
    {
        string prefix = Path.EndsInDirectorySeparator(folder) ? folder : folder + Path.DirectorySeparatorChar;
        var comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return path.StartsWith(prefix, comparison);
    }

    /// <summary>The path with every symbolic link along it resolved (like realpath(3) for existing parts).</summary>
    internal static string RealPath(string fullPath)
    {
        string root = Path.GetPathRoot(fullPath) ?? "/";
        string current = root;
        var parts = fullPath[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            string next = Path.Combine(current, parts[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.Exists && info.LinkTarget is not null)
            {
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                // A dangling link: use its literal target so that the containment check still sees where it points.
                next = target?.FullName ?? Path.GetFullPath(info.LinkTarget, current);
                next = RealPath(next);
            }
            current = next;
        }
        return current;
    }
}
