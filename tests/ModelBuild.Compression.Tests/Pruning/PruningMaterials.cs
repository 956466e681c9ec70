using ModelBuild.Compression.Data;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>Paths into ../shared (a sibling of the repository root, found by walking up to ModelBuild.sln).</summary>
internal static class PruningMaterials
{
    private static readonly Lazy<string> SharedRoot = new(() =>
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln")))
        {
            dir = dir.Parent;
        }
        return dir is null
            ? throw new DirectoryNotFoundException("ModelBuild.sln not found above the test binaries")
            : Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared"));
    });

    public static string Shared(params string[] parts) => Path.Combine(new[] { SharedRoot.Value }.Concat(parts).ToArray());

    public static OnnxModel Teacher(string name) => OnnxModel.Load(Shared("teachers", name, "teacher.onnx"));

    public static OnnxModel Model(string name) => OnnxModel.Load(Shared("models", name, "model.onnx"));

    public static NpyArray TeacherData(string name, string file) => NpyArray.Read(Shared("teachers", name, file));

    /// <summary>mnist-t10k as float images [n,1,28,28] scaled to [0,1] and labels, from the data set folder.</summary>
    public static (NpyArray X, NpyArray Y) MnistT10k() => MnistReader.Load(Shared("datasets", "mnist-t10k"));
}
