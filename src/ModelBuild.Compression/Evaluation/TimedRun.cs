using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// A model ready to be timed as a serving app calls it (ModelBuild.Runtime's InferenceContext): one batch of the data
/// bound once, input and output OrtValues allocated once (one run discovers the output shapes) and bound to an
/// OrtIoBinding, so a timed run is RunWithBinding: the model's work plus ONNX Runtime's fixed per-call cost, without
/// marshalling input and output names on every call or managed allocations. Owns the runner.
/// </summary>
public sealed class TimedRun : IDisposable
{
    private readonly ModelRunner _runner;
    private readonly RunOptions _runOptions = new();
    private readonly OrtValue[] _inputs;
    private readonly OrtValue[] _outputs;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly OrtIoBinding _binding;

    /// <param name="batch">Samples per run (the model's fixed batch when it has one), at most the data's.</param>
    public TimedRun(ModelRunner runner, InputSet data, int batch = 1)
    {
        _runner = runner;
        var session = runner.Session;
        var bound = runner.Bind(data, "timing data");
        _inputNames = runner.InputNames.ToArray();
        _inputs = runner.CreateInputs(bound, 0, Math.Min(runner.BatchSize(batch), bound.Count));
        // Only tensor outputs get a pre-allocated buffer; a converter's ZipMap (a sequence of maps) is not fetched.
        _outputNames = runner.OutputNames.Where(n => session.OutputMetadata[n].IsTensor).ToArray();
        if (_outputNames.Length == 0)
            throw new ModelBuildException(ModelRunner.UnreadableOutput,
                $"'{runner.ModelPath}' has no tensor output (only sequences or maps, e.g. a ZipMap), so it cannot be timed or scored.",
                "Export the model with numeric tensor outputs (skl2onnx: options={'zipmap': False}).", runner.ModelPath);
        using var first = session.Run(_runOptions, _inputNames, _inputs, _outputNames);
        _outputs = first.Select(v =>
        {
            var info = v.GetTensorTypeAndShape();
            return OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, info.ElementDataType, info.Shape);
        }).ToArray();
        _binding = session.CreateIoBinding();
        for (var i = 0; i < _inputs.Length; i++) _binding.BindInput(_inputNames[i], _inputs[i]);
        for (var i = 0; i < _outputs.Length; i++) _binding.BindOutput(_outputNames[i], _outputs[i]);
    }

    public void Warmup(int runs)
    {
        for (var i = 0; i < runs; i++) Run();
    }

    /// <summary>Microseconds of each of <paramref name="runs"/> runs, added to <paramref name="into"/>.</summary>
    public void Time(int runs, List<double> into)
    {
        for (var i = 0; i < runs; i++)
        {
            var start = Stopwatch.GetTimestamp();
            Run();
            into.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
    }

    /// <summary>Microseconds of each of <paramref name="runs"/> runs.</summary>
    public double[] Time(int runs)
    {
        var times = new List<double>(runs);
        Time(runs, times);
        return times.ToArray();
    }

    private void Run() => _runner.Session.RunWithBinding(_runOptions, _binding);

    public void Dispose()
    {
        _binding.Dispose();
        foreach (var v in _inputs) v.Dispose();
        foreach (var v in _outputs) v.Dispose();
        _runOptions.Dispose();
        _runner.Dispose();
    }
}
