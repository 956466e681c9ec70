using BenchmarkDotNet.Attributes;

namespace ModelBuild.Runtime.Benchmarks;

/// <summary>32 rows of the wine teacher: one PredictBatch call (one ONNX Runtime run over [32,13]) vs 32 Predict calls.</summary>
[MemoryDiagnoser]
public class BatchBenchmarks
{
    private const int Rows = 32;
    private PredictionEnginePool<WineInput, WineScores> _pool = null!;
    private WineInput[] _inputs = null!;
    private WineScores[] _outputs = null!;

    [Params("teacher")]
    public string Model { get; set; } = "teacher";

    /// <summary>1 is the pool's default (one intra-op thread per call suits a server running many requests at once);
    /// 0 is ONNX Runtime's own default (one thread per physical core), the setting the reference figures used.</summary>
    [Params(1, 0)]
    public int IntraOpThreads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new PredictionEnginePoolOptions<WineInput, WineScores>();
        options.Session.IntraOpNumThreads = IntraOpThreads;
        _pool = new PredictionEnginePool<WineInput, WineScores>(options);
        _pool.AddModelFromFile("wine", BenchmarkData.ModelPath(Model));
        _inputs = [.. BenchmarkData.TestRows().Take(Rows).Select(r => new WineInput { Features = r })];
        _outputs = [.. Enumerable.Range(0, Rows).Select(_ => new WineScores())];
    }

    [Benchmark(Baseline = true, Description = "32 x Predict(name, in, out)")]
    public float Singles()
    {
        for (int i = 0; i < Rows; i++)
        {
            _pool.Predict("wine", _inputs[i], _outputs[i]);
        }
        return _outputs[Rows - 1].Scores[0];
    }

    [Benchmark(Description = "PredictBatch(name, 32 in, 32 out)")]
    public float Batch()
    {
        _pool.PredictBatch("wine", _inputs, _outputs);
        return _outputs[Rows - 1].Scores[0];
    }

    [GlobalCleanup]
    public void Cleanup() => _pool.Dispose();
}
