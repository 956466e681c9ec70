using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
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

    public static DataTensor TeacherData(string name, string file) => NpyDataReader.Read(Shared("teachers", name, file));

    /// <summary>Float data of the given shape (made-up inputs).</summary>
    public static DataTensor Floats(float[] values, params long[] shape) => new("test data", shape, values, null, "float32");

    /// <summary>The model's first output on every sample of <paramref name="x"/> (sample-major) and its width per sample.</summary>
    public static (float[] Values, int PerSample) Logits(OnnxModel model, DataTensor x)
    {
        using var runner = new ModelRunner(model);
        var outputs = runner.RunAll(InputSet.Of(x));
        return (outputs.Values[0], outputs.PerSample[0]);
    }

    /// <summary>Writes a float32 or int64 data set as .npy.</summary>
    public static void Save(DataTensor data, string path) =>
        (data.IsFloat ? NpyArray.Create(data.Floats!, data.Shape) : NpyArray.Create(data.Int64s!, data.Shape)).Save(path);

    /// <summary>mnist-t10k as float images [n,1,28,28] scaled to [0,1] and labels, from the data set folder.</summary>
    public static (DataTensor X, DataTensor Y) MnistT10k()
    {
        var (x, y) = MnistReader.Load(Shared("datasets", "mnist-t10k"));
        return (NpyDataReader.ToDataTensor("mnist-t10k images", x), NpyDataReader.ToDataTensor("mnist-t10k labels", y));
    }
}
