using ModelBuild.Compression.Data;
using ModelBuild.Onnx;
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
        var dataCount = data?.Count ?? 0;
        if (data is not null && maxSamples is { } max) data = data.Take(max);
        _data = data;
        Threads = threads;
        LatencyRuns = latencyRuns;
        RequestedOutput = output;
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

    public EvaluationResult Evaluate(string modelPath) => Evaluate(() => new ModelRunner(modelPath, Threads));

    /// <summary>Evaluates a model in memory (pruning's steps).</summary>
    public EvaluationResult Evaluate(OnnxModel model) => Evaluate(() => new ModelRunner(model, Threads));

    EvaluationResult Evaluate(Func<ModelRunner> open)
    {
        if (_data is null) return new EvaluationResult(null, null, null, []);
        using var runner = open();
        ResolveOutput(runner);
        var outputs = runner.RunAll(_data);
        return Compare(outputs);
    }

    /// <summary>The requested output must be one of the model's (MB0583); without a request, the first output.</summary>
    private void ResolveOutput(ModelRunner runner)
    {
        if (Output is not null && runner.OutputNames.Contains(Output)) return;
        // A student exported with its own output names is compared by position with the reference (ReferenceIndex),
        // so the reference's chosen output names the same position in it.
        if (Output is not null && _reference is not null && runner.OutputNames.Count(n => runner.Session.OutputMetadata[n].IsTensor) == _reference.Names.Length) return;
        // By default the first numeric output: a converted classifier's ZipMap of probabilities is not scored.
        var tensors = runner.OutputNames.Where(n => runner.Session.OutputMetadata[n].IsTensor).ToArray();
        var chosen = ChooseOutput(RequestedOutput is null && tensors.Length > 0 ? tensors : runner.OutputNames, RequestedOutput, runner.ModelPath);
        if (!tensors.Contains(chosen))
            throw new ModelBuildException(ModelRunner.UnreadableOutput,
                $"The output '{chosen}' of '{runner.ModelPath}' is not a numeric tensor (a sequence or map, e.g. a ZipMap of class probabilities), so accuracy and agreement cannot be computed on it.",
                "Choose a numeric output with --metric-output, or export the model without ZipMap (skl2onnx: options={'zipmap': False}).", runner.ModelPath);
        Output = chosen;
    }

    /// <summary><paramref name="requested"/> when the model has it (MB0583 otherwise), else the first output.</summary>
    public static string ChooseOutput(IReadOnlyList<string> outputs, string? requested, string modelPath)
    {
        if (requested is null) return outputs[0];
        return outputs.Contains(requested) ? requested : throw new ModelBuildException("MB0583",
            $"The output '{requested}' is not an output of '{modelPath}' (it has {string.Join(", ", outputs)}).",
            "Pass --metric-output with one of the model's output names (MetricOutput on the item, \"metricOutput\" in a recipe); `modelbuild inspect` lists them.", modelPath);
    }

    public EvaluationResult Compare(ModelOutputs outputs)
    {
        // No class prediction (one float per sample): accuracy and agreement are not measured rather than made up.
        var output = Output is null ? 0
            : outputs.Names.Contains(Output) ? Array.IndexOf(outputs.Names, Output)
            : _reference is not null && outputs.Names.Length == _reference.Names.Length ? Math.Max(0, Array.IndexOf(_reference.Names, Output))
            : 0;
        var predictions = outputs.Predictions(output);
        CheckLabelsAreClasses(outputs, output);
        var referencePredictions = _reference?.Predictions(ReferenceIndex(outputs, output));
        double? accuracy = _labels is null || predictions is null ? null : Metrics.Accuracy(predictions, _labels);
        double? agreement = referencePredictions is null || predictions is null ? null : Metrics.Agreement(predictions, referencePredictions);
        var sqnr = _reference is null ? [] : outputs.Names.Select((n, i) =>
            (n, Metrics.Sqnr(_reference.Values[ReferenceIndex(outputs, i)], outputs.Values[i]))).ToArray();
        return new EvaluationResult(accuracy, agreement, predictions, sqnr);
    }

    /// <summary>
    /// MB0122 when a label is not one of the scores' classes (0..K-1): it could never match a prediction, so accuracy
    /// would be lowered without a word. Not checked for an integer label output (a converted classifier), whose
    /// number of classes the output does not show.
    /// </summary>
    private void CheckLabelsAreClasses(ModelOutputs outputs, int output)
    {
        if (_labels is null || outputs.PerSample.Length <= output || outputs.PerSample[output] < 2) return;
        if (outputs.Integer is { } integer && integer.Length > output && integer[output]) return;
        var classes = outputs.PerSample[output];
        if (Array.FindIndex(_labels, l => l >= classes) is var at and >= 0)
        {
            var path = LabelData?.Path ?? "the labels";
            throw new ModelBuildException("MB0122", $"The labels in '{path}' are not class ids of the model: entry {at} is {_labels[at]}, but '{outputs.Names[output]}' scores {classes} classes (0..{classes - 1}).",
                "Save class ids 0..K-1 in the model's class order; or, if another output holds the class scores, name it with --metric-output.", path);
        }
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

    /// <summary>Batch-1 latency of a model in memory, <paramref name="runs"/> runs (none: null).</summary>
    public double? Latency(OnnxModel model, int runs) =>
        _data is null || runs <= 0 ? null : LatencyMeter.MeasureMedian(model, _data, runs);
}

/// <summary>What one evaluation measured. SQNR is per model output, in dB, against the reference.</summary>
public sealed record EvaluationResult(double? Accuracy, double? Agreement, int[]? Predictions, (string Output, double Db)[] Sqnr)
{
    public double? MinSqnr => Sqnr.Length == 0 ? null : Sqnr.Min(s => s.Db);
}
