using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// Evaluates models on one evaluation set: accuracy from labels, top-1 agreement and output SQNR against a
/// reference (the teacher), batch-1 latency. The reference outputs are computed once and kept.
/// </summary>
public sealed class ModelEvaluator
{
    private readonly DataTensor? _data;
    private readonly long[]? _labels;
    private ModelOutputs? _reference;

    public ModelEvaluator(DataTensor? data, DataTensor? labels, int threads = 1, int latencyRuns = LatencyMeter.DefaultRuns, int? maxSamples = null)
    {
        var dataCount = data?.Count ?? 0;
        if (data is not null && maxSamples is { } max && max < data.Count) data = Truncate(data, max);
        _data = data;
        Threads = threads;
        LatencyRuns = latencyRuns;
        if (labels is not null)
        {
            if (labels.IsFloat)
                throw new ModelBuildException("MB0509", $"The labels '{labels.Path}' hold {labels.SourceDtype} values; labels must be integer class ids.", "Save the labels as int64 (y.astype(np.int64)).", labels.Path);
            if (data is not null && labels.Count != dataCount)
                throw new ModelBuildException("MB0510", $"The labels '{labels.Path}' have {labels.Count} entries but the evaluation data has {dataCount} samples.", "Pass labels with exactly one class id per evaluation sample, in the same order.", labels.Path);
            _labels = data is null ? labels.Int64s : labels.Int64s!.Take(data.Count).ToArray();
            LabelData = labels;
        }
    }

    public DataTensor? Data => _data;
    /// <summary>The labels as given (from a labels file or embedded in the data), or null.</summary>
    public DataTensor? LabelData { get; }
    public bool HasData => _data is not null;
    public bool HasLabels => _labels is not null;
    public int Threads { get; }
    public int LatencyRuns { get; }

    public static DataTensor Truncate(DataTensor data, int count)
    {
        var shape = data.Shape.ToArray();
        shape[0] = count;
        return new DataTensor(data.Path, shape, data.IsFloat ? data.SliceFloats(0, count) : null, data.IsFloat ? null : data.SliceInt64s(0, count), data.SourceDtype);
    }

    /// <summary>Sets the reference (teacher) whose predictions the others are compared with.</summary>
    public ModelOutputs? SetReference(string modelPath)
    {
        if (_data is null) return null;
        using var runner = new ModelRunner(modelPath, Threads);
        runner.CheckData(_data, "evaluation data");
        _reference = runner.RunAll(_data);
        return _reference;
    }

    public ModelOutputs? Reference => _reference;

    public EvaluationResult Evaluate(string modelPath)
    {
        if (_data is null) return new EvaluationResult(null, null, null, []);
        using var runner = new ModelRunner(modelPath, Threads);
        var outputs = runner.RunAll(_data);
        return Compare(outputs);
    }

    public EvaluationResult Compare(ModelOutputs outputs)
    {
        // No class prediction (one float per sample): accuracy and agreement are not measured rather than made up.
        var predictions = outputs.Predictions();
        var referencePredictions = _reference?.Predictions();
        double? accuracy = _labels is null || predictions is null ? null : Metrics.Accuracy(predictions, _labels);
        double? agreement = referencePredictions is null || predictions is null ? null : Metrics.Agreement(predictions, referencePredictions);
        var sqnr = _reference is null ? [] : outputs.Names.Select((n, i) =>
            (n, Metrics.Sqnr(_reference.Values[ReferenceIndex(outputs, i)], outputs.Values[i]))).ToArray();
        return new EvaluationResult(accuracy, agreement, predictions, sqnr);
    }

    /// <summary>
    /// The reference output compared with output <paramref name="i"/>: the one of the same name, else the one in the
    /// same position (a student exported with its own output names, e.g. "output" for the teacher's "logits"). MB0561
    /// when neither exists or the sizes differ.
    /// </summary>
    int ReferenceIndex(ModelOutputs outputs, int i)
    {
        var reference = _reference!;
        var index = Array.IndexOf(reference.Names, outputs.Names[i]);
        if (index < 0 && outputs.Names.Length == reference.Names.Length) index = i;
        if (index < 0 || reference.Values[index].Length != outputs.Values[i].Length)
            throw new ModelBuildException("MB0561",
                $"The model's output '{outputs.Names[i]}' ({outputs.PerSample[i]} values per sample) has no counterpart among the reference's outputs ({string.Join(", ", reference.Names.Select((n, k) => $"'{n}': {reference.PerSample[k]}"))}).",
                "Compare models with the same outputs: the same number of outputs, in the same order and with the same sizes (names may differ).");
        return index;
    }

    public double? Latency(string modelPath) =>
        _data is null || LatencyRuns <= 0 ? null : LatencyMeter.MeasureMedian(modelPath, _data, LatencyRuns);
}

/// <summary>What one evaluation measured. SQNR is per model output, in dB, against the reference.</summary>
public sealed record EvaluationResult(double? Accuracy, double? Agreement, int[]? Predictions, (string Output, double Db)[] Sqnr)
{
    public double? MinSqnr => Sqnr.Length == 0 ? null : Sqnr.Min(s => s.Db);
}
