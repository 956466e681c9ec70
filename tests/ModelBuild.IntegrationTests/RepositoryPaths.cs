namespace ModelBuild.IntegrationTests;

/// <summary>The repository root (the folder with ModelBuild.sln) and the shared materials beside it (../shared).</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();
    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));
    public static string WineTeacher => Path.Combine(Shared, "teachers", "wine-mlp");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ModelBuild.sln"))) return directory.FullName;
        }
        throw new InvalidOperationException($"No ModelBuild.sln above {AppContext.BaseDirectory}.");
    }
}
