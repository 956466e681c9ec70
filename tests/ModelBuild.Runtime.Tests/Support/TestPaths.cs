namespace ModelBuild.Runtime.Tests.Support;

/// <summary>Finds ../shared from the repository root (the directory holding ModelBuild.sln).</summary>
internal static class TestPaths
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string Shared => Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared"));

    public static string WineDirectory => Path.Combine(Shared, "teachers", "wine-mlp");

    public static string WineTeacher => Path.Combine(WineDirectory, "teacher.onnx");

    public static string WineStudent => Path.Combine(WineDirectory, "student_kd.onnx");

    public static string WineTestX => Path.Combine(WineDirectory, "test_x.npy");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("ModelBuild.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary directory removed at the end of the test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mb-runtime-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Copy(string source, string name)
    {
        var target = File(name);
        System.IO.File.Copy(source, target, overwrite: true);
        return target;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
