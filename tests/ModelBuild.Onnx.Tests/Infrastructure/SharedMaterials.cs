namespace ModelBuild.Onnx.Tests.Infrastructure;

/// <summary>Locates ../shared (a sibling of the repository root, found by walking up to ModelBuild.sln).</summary>
public static class SharedMaterials
{
    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln")))
            {
                string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
                if (!Directory.Exists(shared))
                {
                    throw new DirectoryNotFoundException($"The shared test materials are expected at {shared} (a sibling of the repository).");
                }
                return shared;
            }
        }
        throw new DirectoryNotFoundException("ModelBuild.sln not found above " + AppContext.BaseDirectory);
    });

    public static string Path_(params string[] parts) => Path.Combine(new[] { Root.Value }.Concat(parts).ToArray());

    public static string SharedRoot => Root.Value;

    public static string NodeTests => Path.Combine(Root.Value, "onnx-node-tests");

    public static string Models => Path.Combine(Root.Value, "models");

    public static string Teachers => Path.Combine(Root.Value, "teachers");

    /// <summary>Every .onnx file under models/ and teachers/.</summary>
    public static IReadOnlyList<string> RealModelFiles() =>
        Directory.EnumerateFiles(Models, "*.onnx", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Teachers, "*.onnx", SearchOption.AllDirectories))
            .OrderBy(p => p, StringComparer.Ordinal)
            .ToList();

    /// <summary>Every node test folder with its INDEX.tsv status (PASS, FAIL, ERROR, NOT_RUN).</summary>
    public static IReadOnlyList<(string Name, string Directory, string Status)> NodeTestCases()
    {
        var status = File.ReadLines(Path.Combine(NodeTests, "INDEX.tsv"))
            .Skip(1)
            .Select(l => l.Split('\t'))
            .Where(c => c.Length >= 8)
            .ToDictionary(c => c[0], c => c[7]);
        return Directory.EnumerateDirectories(NodeTests)
            .Select(d => (Name: Path.GetFileName(d), Directory: d))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => (t.Name, t.Directory, status.GetValueOrDefault(t.Name, "UNLISTED")))
            .ToList();
    }

    public static string RepoRelative(string path) => System.IO.Path.GetRelativePath(Root.Value, path);
}
