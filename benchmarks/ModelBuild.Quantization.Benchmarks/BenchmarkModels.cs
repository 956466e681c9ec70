using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Quantization;
using ModelBuild.Compression.Data;

namespace ModelBuild.Quantization.Benchmarks;

/// <summary>Builds each quantized form of a teacher once per process (cached in a temp folder) with the engine itself.</summary>
internal static class BenchmarkModels
{
    public static string Shared { get; } = FindShared();
    private static readonly Dictionary<string, string> Cache = [];
    private static readonly string Folder = Directory.CreateTempSubdirectory("mb-quant-bench-").FullName;

    private static string FindShared()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln"))) dir = dir.Parent;
        return Path.GetFullPath(Path.Combine(dir?.FullName ?? throw new InvalidOperationException("ModelBuild.sln not found"), "..", "shared"));
    }

    public static string TeacherPath(string teacher) => Path.Combine(Shared, "teachers", teacher, "teacher.onnx");
    public static string CalibrationPath(string teacher) => Path.Combine(Shared, "teachers", teacher, "calib_x.npy");

    public static string Get(string teacher, string form)
    {
        var key = teacher + "/" + form;
        lock (Cache)
        {
            if (Cache.TryGetValue(key, out var cached)) return cached;
            var source = TeacherPath(teacher);
            if (form == "float") return Cache[key] = source;
            var prepared = GraphPreparation.Prepare(OnnxModelAccess.Load(source), source);
            QuantizedModel model = form switch
            {
                "int8-static" => StaticInt8(prepared, DataTensor.Load(CalibrationPath(teacher))),
                "int8-dynamic" => new DynamicInt8Quantizer().Quantize(prepared),
                "int8-weights" => new Int8WeightStorage().Quantize(prepared),
                "int4-weight" => new Int4WeightQuantizer().Quantize(prepared),
                _ => throw new ArgumentException(form),
            };
            var path = Path.Combine(Folder, $"{teacher}-{form}.onnx");
            File.WriteAllBytes(path, OnnxModelAccess.Serialize(model.Model));
            return Cache[key] = path;
        }
    }

    public static QuantizedModel StaticInt8(global::Onnx.ModelProto prepared, DataTensor calibration, CalibrationMethod method = CalibrationMethod.MinMax)
    {
        var quantizer = new StaticQdqInt8Quantizer();
        var plan = quantizer.Plan(prepared.Graph);
        var histograms = new CalibrationCollector().Collect(prepared, plan.Tensors, calibration);
        var ranges = histograms.ToDictionary(h => h.Key, h => HistogramCalibrator.Range(h.Value, method));
        return quantizer.Quantize(prepared, ranges);
    }

    /// <summary>The first <paramref name="batch"/> calibration samples (repeated when there are fewer).</summary>
    public static DataTensor Batch(string teacher, int batch)
    {
        var data = DataTensor.Load(CalibrationPath(teacher));
        var rows = Enumerable.Range(0, batch).Select(i => i % data.Count).ToArray();
        return Rows(data, rows);
    }

    public static DataTensor Rows(DataTensor data, int[] rows)
    {
        var shape = data.Shape.ToArray();
        shape[0] = rows.Length;
        var n = data.SampleSize;
        if (data.IsFloat)
            return new DataTensor(data.Path, shape, rows.SelectMany(r => data.Floats!.Skip(r * n).Take(n)).ToArray(), null, data.SourceDtype);
        return new DataTensor(data.Path, shape, null, rows.SelectMany(r => data.Int64s!.Skip(r * n).Take(n)).ToArray(), data.SourceDtype);
    }
}
