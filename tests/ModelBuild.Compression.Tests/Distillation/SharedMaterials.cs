namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>Finds ../shared (the read-only models and data beside the repository root).</summary>
internal static class SharedMaterials
{
    static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
        }
        throw new DirectoryNotFoundException("No ModelBuild.sln above " + AppContext.BaseDirectory);
    });

    public static string Path_(params string[] parts) => Path.Combine(new[] { Root.Value }.Concat(parts).ToArray());

    public static string Teachers(params string[] parts) => Path_(new[] { "teachers" }.Concat(parts).ToArray());
}
