using ModelBuild.Compression.Data;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// Evaluates models on one evaluation set (one or many named inputs): accuracy from labels and top-1 agreement on the
/// chosen output (<see cref="Output"/>, the first by default), output SQNR against a reference (the teacher) on every
/// output, batch-1 latency. The reference outputs are computed once and kept.
/// </summary>
public sealed class ModelEvaluator
{
    private readonly InputSet? _data;
    private readonly long[]? _labels;
    private ModelOutputs? _reference;

    public ModelEvaluator(InputSet? data, DataTensor? labels, int threads = 1, int latencyRuns = LatencyMeter.DefaultRuns, int? maxSamples = null, string? output = null)
    {
        if (data is not null && maxSamples is { } max) data = data.Take(max);
        _data = data;
        Threads = threads;
        LatencyRuns = latencyRuns;
        RequestedOutput = output;
        if (labels is not null)
        {
            if (labels.IsFloat)
                throw new ModelBuildException("MB0509", $"The labels '{labels.Path}' hold {labels.SourceDtype} values; labels must be integer class ids.", "Save the labels as int64 (y.astype(np.int64)).", labels.Path);
            if (data is not null && labels.Count < data.Count)
                throw new ModelBuildException("MB0510", $"The labels '{labels.Path}' have {labels.Count} entries but the evaluation data has {data.Count} samples.", "Pass labels with one class id per evaluation sample.", labels.Path);
            _labels = labels.Int64s;
            LabelData = labels;
        }
    }

    public InputSet? Data => _data;
    /// <summary>The labels as given (from a labels file or embedded in the data), or null.</summary>
    public DataTensor? LabelData { get; }
    public bool HasData => _data is not null;
    public bool HasLabels => _labels is not null;
    public int Threads { get; }
    public int LatencyRuns { get; }
    /// <summary>The output asked for (<c>--output</c>), or null for the model's first.</summary>
    public string? RequestedOutput { get; }
    /// <summary>The output accuracy and agreement are computed on, once a model has been run (null before).</summary>
    public string? Output { get; private set; }

    /// <summary>The first <paramref name="count"/> samples of a single tensor.</summary>
    public static DataTensor Truncate(DataTensor data, int count) => InputSet.Of(data).Take(count).Single();

    /// <summary>Sets the reference (teacher) whose predictions the others are compared with.</summary>
    public ModelOutputs? SetReference(string modelPath)
    {
        if (_data is null) return null;
        using var runner = new ModelRunner(modelPath, Threads);
        runner.CheckData(_data, "evaluation data");
        ResolveOutput(runner);
        _reference = runner.RunAll(_data);
        return _reference;
    }

    public ModelOutputs? Reference => _reference;

    public EvaluationResult Evaluate(string modelPath)
    {
        if (_data is null) return new EvaluationResult(null, null, null, []);
        using var runner = new ModelRunner(modelPath, Threads);
        ResolveOutput(runner);
        var outputs = runner.RunAll(_data);
        return Compare(outputs);
    }

    /// <summary>The requested output must be one of the model's (MB0583); without a request, the first output.</summary>
    private void ResolveOutput(ModelRunner runner)
    {
        if (Output is not null && runner.OutputNames.Contains(Output)) return;
        Output = ChooseOutput(runner.OutputNames, RequestedOutput, runner.ModelPath);
    }

    /// <summary><paramref name="requested"/> when the model has it (MB0583 otherwise), else the first output.</summary>
    public static string ChooseOutput(IReadOnlyList<string> outputs, string? requested, string modelPath)
    {
        if (requested is null) return outputs[0];
        return outputs.Contains(requested) ? requested : throw new ModelBuildException("MB0583",
            $"The output '{requested}' is not an output of '{modelPath}' (it has {string.Join(", ", outputs)}).",
            "Pass --output with one of the model's output names (Output on the item, \"output\" in a recipe); `modelbuild inspect` lists them.", modelPath);
    }

    public EvaluationResult Compare(ModelOutputs outputs)
    {
        var output = Output is not null && outputs.Names.Contains(Output) ? Output : outputs.Names[0];
        var predictions = outputs.ArgMax(output);
        double? accuracy = _labels is null ? null : Metrics.Accuracy(predictions, _labels);
        double? agreement = _reference is null ? null : Metrics.Agreement(predictions, _reference.ArgMax(_reference.Names.Contains(output) ? output : null));
        var sqnr = _reference is null ? [] : outputs.Names.Where(n => _reference.Names.Contains(n)).Select(n =>
            (n, Metrics.Sqnr(_reference.Values[Array.IndexOf(_reference.Names, n)], outputs.Values[Array.IndexOf(outputs.Names, n)]))).ToArray();
        return new EvaluationResult(accuracy, agreement, predictions, sqnr);
    }

    public double? Latency(string modelPath) =>
        _data is null || LatencyRuns <= 0 ? null : LatencyMeter.MeasureMedian(modelPath, _data, LatencyRuns);
}

/// <summary>What one evaluation measured. SQNR is per model output, in dB, against the reference.</summary>
public sealed record EvaluationResult(double? Accuracy, double? Agreement, int[]? Predictions, (string Output, double Db)[] Sqnr)
{
    public double? MinSqnr => Sqnr.Length == 0 ? null : Sqnr.Min(s => s.Db);
}
