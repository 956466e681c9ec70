using System.IO.Compression;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Tests;

/// <summary>Paths to ../shared and small helpers to build data files the tests need (MNIST subsets, bad inputs).</summary>
internal static class TestMaterials
{
    public static string RepoRoot { get; } = FindRoot();
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
    public static string Teacher(string name) => Path.Combine(Shared, "teachers", name);
    public static string Model(string name) => Path.Combine(Shared, "models", name, "model.onnx");

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("ModelBuild.sln not found above " + AppContext.BaseDirectory);
    }

    private static readonly List<string> TempDirs = [];

    /// <summary>A fresh temp folder, deleted when the test process exits.</summary>
    public static string TempDir()
    {
        var dir = Directory.CreateTempSubdirectory("mb-quant-test-").FullName;
        lock (TempDirs)
        {
            if (TempDirs.Count == 0)
                AppDomain.CurrentDomain.ProcessExit += (_, _) => { foreach (var d in TempDirs) try { Directory.Delete(d, true); } catch (IOException) { } };
            TempDirs.Add(dir);
        }
        return dir;
    }

    /// <summary>MNIST t10k images [start, start+count) as float [N,1,28,28], scaled by <paramref name="transform"/>, and labels.</summary>
    public static (float[] Images, long[] Labels) Mnist(int start, int count, Func<byte, float> transform)
    {
        var images = ReadGz(Path.Combine(Shared, "datasets", "mnist-t10k", "t10k-images-idx3-ubyte.gz"));
        var labels = ReadGz(Path.Combine(Shared, "datasets", "mnist-t10k", "t10k-labels-idx1-ubyte.gz"));
        var x = new float[count * 784];
        var y = new long[count];
        for (var i = 0; i < count; i++)
        {
            for (var p = 0; p < 784; p++) x[i * 784 + p] = transform(images[16 + (start + i) * 784 + p]);
            y[i] = labels[8 + start + i];
        }
        return (x, y);
    }

    private static byte[] ReadGz(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }

    public static string SaveNpy<T>(string dir, string name, T[] values, params long[] shape) where T : unmanaged
    {
        var path = Path.Combine(dir, name);
        NpyArray.Create(values, shape).Save(path);
        return path;
    }

    /// <summary>Deterministic uniform values in [lo, hi).</summary>
    public static float[] Random(int count, int seed, float lo = 0, float hi = 1)
    {
        var r = new Random(seed);
        var v = new float[count];
        for (var i = 0; i < v.Length; i++) v[i] = lo + (float)r.NextDouble() * (hi - lo);
        return v;
    }

    public static CompressionRecipe TeacherRecipe(string teacher, string output, string quantize)
    {
        var t = Teacher(teacher);
        return new CompressionRecipe
        {
            Teacher = Path.Combine(t, "teacher.onnx"),
            Output = output,
            Quantize = quantize,
            CalibrationData = Path.Combine(t, "calib_x.npy"),
            EvaluationData = Path.Combine(t, "test_x.npy"),
            EvaluationLabels = Path.Combine(t, "test_y.npy"),
        };
    }

    public static CompressionReport Run(CompressionRecipe recipe, string? reportPath = null, int latencyRuns = 0, StringWriter? log = null) =>
        new CompressionPipeline(StageCatalog.All()) { LatencyRuns = latencyRuns }.Run(recipe, new WorkerProtocolLog(ModelBuild.TestSupport.ProducedCodes.Observing(log ?? new StringWriter())), reportPath);

    public static System.Text.Json.Nodes.JsonObject QuantizeDetails(CompressionReport report) =>
        report.Stages.Single(s => s.Name == "quantize").Details!;

    public static DataTensor Load(string path) => DataTensor.Load(path);

    /// <summary>
    /// The synthetic-intent student_kd after the optimize stage's auto fusions (fused Attention, trimmed sequence),
    /// written to <c>fused.onnx</c> in a fresh temp folder and prepared for quantization: the input of the quantize
    /// stage in the sample's pipeline.
    /// </summary>
    public static FusedStudent FusedIntentStudent()
    {
        var dir = TempDir();
        var teacher = Teacher("synthetic-intent-transformer");
        var student = Path.Combine(teacher, "student_kd.onnx");
        var data = DataSource.ReadInputSet(Path.Combine(teacher, "test_x.npy"), new DataReadOptions().ForModel(student));
        var fused = Path.Combine(dir, "fused.onnx");
        var optimized = new ModelBuild.Compression.Optimization.GraphOptimizer(ModelBuild.Compression.Optimization.FusionRegistry.Auto())
            .Optimize(student, data.Take(16), fused, Path.Combine(dir, "candidates"));
        var prepared = ModelBuild.Compression.Quantization.GraphPreparation.Prepare(ModelBuild.Compression.Quantization.OnnxModelAccess.Load(fused), fused);
        return new FusedStudent(dir, teacher, student, data, fused, optimized, prepared);
    }

    public sealed record FusedStudent(string Dir, string TeacherFolder, string Student, InputSet Data, string Fused,
        ModelBuild.Compression.Optimization.OptimizationResult Optimized, global::Onnx.ModelProto Prepared);
}
