using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Quantization;
using ModelBuild.Compression.Data;

namespace ModelBuild.Quantization.Benchmarks;

/// <summary>
/// Entropy calibration of the transformer on 1k and 10k samples (calibration rows drawn with replacement from
/// the training split, fixed seed). BenchmarkDotNet reports time and managed allocations; the peak memory of the
/// whole process (managed + ONNX Runtime's native arena) is measured by <see cref="PeakMemory"/> in a fresh process
/// per sample count, because BenchmarkDotNet has no peak-memory column.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
[WarmupCount(1), IterationCount(3), InvocationCount(1)]
public class CalibrationMemoryBenchmarks
{
    private global::Onnx.ModelProto? _prepared;
    private List<string> _tensors = [];
    private DataTensor? _data;

    [Params(1_000, 10_000)]
    public int Samples { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (_prepared, _tensors) = PeakMemory.Prepare();
        _data = PeakMemory.Samples(Samples);
    }

    [Benchmark]
    public int EntropyCalibration() => PeakMemory.Calibrate(_prepared!, _tensors, _data!);
}

/// <summary><c>--peak-memory N</c>: calibrate on N samples and print the process's peak working set.</summary>
public static class PeakMemory
{
    public const string Teacher = "synthetic-intent-transformer";

    public static (global::Onnx.ModelProto, List<string>) Prepare()
    {
        var source = BenchmarkModels.TeacherPath(Teacher);
        var prepared = GraphPreparation.Prepare(OnnxModelAccess.Load(source), source);
        return (prepared, new StaticQdqInt8Quantizer().Plan(prepared.Graph).Tensors);
    }

    public static DataTensor Samples(int count)
    {
        var train = DataTensor.Load(Path.Combine(BenchmarkModels.Shared, "teachers", Teacher, "train_x.npy"));
        var random = new Random(42);
        return BenchmarkModels.Rows(train, Enumerable.Range(0, count).Select(_ => random.Next(train.Count)).ToArray());
    }

    public static int Calibrate(global::Onnx.ModelProto prepared, List<string> tensors, DataTensor data)
    {
        var histograms = new CalibrationCollector().Collect(prepared, tensors, data);
        return histograms.Values.Sum(h => HistogramCalibrator.Range(h, CalibrationMethod.Entropy).Max > 0 ? 1 : 0);
    }

    public static int Run(int samples)
    {
        var (prepared, tensors) = Prepare();
        var data = Samples(samples);
        var before = Process.GetCurrentProcess();
        before.Refresh();
        var baseline = before.PeakWorkingSet64;
        var clock = Stopwatch.StartNew();
        Calibrate(prepared, tensors, data);
        var p = Process.GetCurrentProcess();
        p.Refresh();
        Console.WriteLine($"samples={samples} peak_working_set_mb={p.PeakWorkingSet64 / 1048576.0:0.0} before_calibration_mb={baseline / 1048576.0:0.0} seconds={clock.Elapsed.TotalSeconds:0.00}");
        return 0;
    }
}
