using BenchmarkDotNet.Attributes;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Transforms.Onnx;

namespace ModelBuild.Runtime.Benchmarks;

/// <summary>
/// One prediction of one wine row, side by side: ModelBuild's pool, ONNX Runtime used directly with pre-allocated
/// OrtValues (a), and ML.NET's PredictionEngine over ApplyOnnxModel (b). All three use one intra-op and one
/// inter-op thread and ORT_ENABLE_ALL, and every variant copies the row into its input (as a server would).
/// </summary>
[MemoryDiagnoser]
public class PredictBenchmarks
{
    private PredictionEnginePool<WineInput, WineScores> _pool = null!;
    private readonly WineScores _poolOutput = new();
    private WineInput[] _poolInputs = null!;

    private InferenceSession _session = null!;
    private RunOptions _runOptions = null!;
    private float[] _ortInput = null!;
    private OrtValue[] _ortInputs = null!;
    private OrtValue[] _ortOutputs = null!;
    private readonly string[] _inputNames = ["input"];
    private readonly string[] _outputNames = ["logits"];
    private OrtIoBinding _binding = null!;

    private Microsoft.ML.PredictionEngine<MlNetWineInput, MlNetWineScores> _mlNet = null!;
    private MlNetWineInput[] _mlNetInputs = null!;
    private MlNetWineScores _mlNetOutput = new();

    private float[][] _rows = null!;
    private int _next;

    [Params("teacher", "student")]
    public string Model { get; set; } = "teacher";

    [GlobalSetup]
    public void Setup()
    {
        _rows = BenchmarkData.TestRows();
        string path = BenchmarkData.ModelPath(Model);

        _pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>());
        _pool.AddModelFromFile("wine", path);
        _poolInputs = [.. _rows.Select(r => new WineInput { Features = r })];

        var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        _session = new InferenceSession(path, options);
        _runOptions = new RunOptions();
        _ortInput = new float[13];
        _ortInputs = [OrtValue.CreateTensorValueFromMemory(_ortInput, [1, 13])];
        _ortOutputs = [OrtValue.CreateTensorValueFromMemory(new float[3], [1, 3])];
        _binding = _session.CreateIoBinding();
        _binding.BindInput("input", _ortInputs[0]);
        _binding.BindOutput("logits", _ortOutputs[0]);

        var ml = new MLContext(seed: 0);
        var pipeline = ml.Transforms.ApplyOnnxModel(new OnnxOptions
        {
            ModelFile = path,
            InputColumns = ["input"],
            OutputColumns = ["logits"],
            ShapeDictionary = new Dictionary<string, int[]> { ["input"] = [1, 13], ["logits"] = [1, 3] },
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
        });
        var empty = ml.Data.LoadFromEnumerable(Array.Empty<MlNetWineInput>());
        _mlNet = ml.Model.CreatePredictionEngine<MlNetWineInput, MlNetWineScores>(pipeline.Fit(empty));
        _mlNetInputs = [.. _rows.Select(r => new MlNetWineInput { Features = r })];

        // All three must agree before their speed is compared.
        var row = _rows[7];
        var pool = _pool.Predict("wine", new WineInput { Features = row }).Scores;
        row.CopyTo(_ortInput, 0);
        _session.Run(_runOptions, _inputNames, _ortInputs, _outputNames, _ortOutputs);
        var raw = _ortOutputs[0].GetTensorDataAsSpan<float>().ToArray();
        var mlNet = _mlNet.Predict(new MlNetWineInput { Features = row }).Scores;
        if (!pool.SequenceEqual(raw) || mlNet.Zip(raw).Any(p => Math.Abs(p.First - p.Second) > 1e-5f))
        {
            throw new InvalidOperationException($"outputs differ: pool [{string.Join(",", pool)}] raw [{string.Join(",", raw)}] ml.net [{string.Join(",", mlNet)}]");
        }
    }

    private int NextRow() => _next = (_next + 1) % 54;

    [Benchmark(Description = "ModelBuild pool Predict(name, in, out)")]
    public float Pool()
    {
        _pool.Predict("wine", _poolInputs[NextRow()], _poolOutput);
        return _poolOutput.Scores[0];
    }

    [Benchmark(Baseline = true, Description = "(a) ORT Run, pre-allocated OrtValues")]
    public float RawOrtRun()
    {
        _rows[NextRow()].CopyTo(_ortInput, 0);
        _session.Run(_runOptions, _inputNames, _ortInputs, _outputNames, _ortOutputs);
        return _ortOutputs[0].GetTensorDataAsSpan<float>()[0];
    }

    [Benchmark(Description = "(a') ORT RunWithBinding, pre-bound OrtValues")]
    public float RawOrtIoBinding()
    {
        _rows[NextRow()].CopyTo(_ortInput, 0);
        _session.RunWithBinding(_runOptions, _binding);
        return _ortOutputs[0].GetTensorDataAsSpan<float>()[0];
    }

    [Benchmark(Description = "(b) ML.NET PredictionEngine, ApplyOnnxModel")]
    public float MlNet()
    {
        // ML.NET's reuse-the-output overload (its fastest path); its nullability annotations disagree on ref.
#pragma warning disable CS8601
        _mlNet.Predict(_mlNetInputs[NextRow()], ref _mlNetOutput);
#pragma warning restore CS8601
        return _mlNetOutput.Scores[0];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.Dispose();
        _binding.Dispose();
        foreach (var v in _ortInputs.Concat(_ortOutputs))
        {
            v.Dispose();
        }
        _runOptions.Dispose();
        _session.Dispose();
        _mlNet.Dispose();
    }
}
