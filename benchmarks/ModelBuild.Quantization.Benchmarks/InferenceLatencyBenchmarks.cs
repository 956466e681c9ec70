using BenchmarkDotNet.Attributes;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Quantization.Benchmarks;

/// <summary>
/// One ONNX Runtime Run per invocation, one intra-op thread, input and output OrtValues allocated once: the float
/// teacher against each int8 form, at batch 1 (serving) and batch 32 (throughput).
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class InferenceLatencyBenchmarks
{
    private InferenceSession? _session;
    private RunOptions? _run;
    private OrtValue[] _inputs = [];
    private OrtValue[] _outputs = [];
    private string[] _inputNames = [];
    private string[] _outputNames = [];

    [Params("wine-mlp", "breast-cancer-mlp", "synthetic-intent-transformer")]
    public string Teacher { get; set; } = "";

    [Params("float", "int8-static", "int8-dynamic", "int8-weights")]
    public string Form { get; set; } = "";

    [Params(1, 32)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var path = BenchmarkModels.Get(Teacher, Form);
        var runner = new ModelRunner(path, intraOpThreads: 1);
        _session = runner.Session;
        _run = new RunOptions();
        var data = BenchmarkModels.Batch(Teacher, Batch);
        _inputNames = runner.InputNames.ToArray();
        _inputs = runner.CreateInputs(runner.Bind(data, "benchmark data"), 0, Batch);
        _outputNames = runner.OutputNames.ToArray();
        using var first = _session.Run(_run, _inputNames, _inputs, _outputNames);
        _outputs = first.Select(v =>
        {
            var info = v.GetTensorTypeAndShape();
            return OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, info.ElementDataType, info.Shape);
        }).ToArray();
    }

    [Benchmark]
    public void Run() => _session!.Run(_run!, _inputNames, _inputs, _outputNames, _outputs);

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var v in _inputs.Concat(_outputs)) v.Dispose();
        _run?.Dispose();
        _session?.Dispose();
    }
}
