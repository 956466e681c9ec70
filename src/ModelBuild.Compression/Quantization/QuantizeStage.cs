using System.Globalization;
using System.Text.Json.Nodes;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.StageContract;
using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The quantize stage: prepares the graph, calibrates when a form needs it, builds the requested form (or every
/// candidate for <c>auto</c>), repairs accuracy by keeping sensitive layers float, measures latency against the float
/// input and applies the "do no harm" latency gate, then reports every candidate's figures.
/// </summary>
public sealed class QuantizeStage : ICompressionStage
{
    public string Name => "quantize";
    public int Order => 300;
    public double DefaultAutoMaxDrop { get; init; } = 0.5;
    public double DefaultAutoMinAgreement { get; init; } = 99.0;

    public bool IsRequested(CompressionRecipe recipe) => QuantizationForms.Parse(recipe.Quantize) != QuantizationForms.None;

    public StageOutcome Run(CompressionContext context)
    {
        var recipe = context.Recipe;
        var word = QuantizationForms.Parse(recipe.Quantize);
        var auto = word == QuantizationForms.Auto;
        // The form asked for; null for auto, which tries the registry's candidates.
        var requested = auto ? null : QuantizationForms.Get(word);
        var method = CalibrationMethodNames.Parse(recipe.CalibrationMethod);
        var input = context.CurrentModel;
        var details = new JsonObject { ["mode"] = word };

        // Data problems are cheaper to find (and more useful to report) than graph ones: check the data first.
        var calibration = ReadCalibration(context);
        var (prepared, perChannel) = PrepareGraph(context, requested, details);
        // Forms that enter If/Loop/Scan bodies reach the MatMuls there (and int8-dynamic the LSTMs); int8-static does not.
        var entersBodies = requested is null || SubgraphQuantization.EntersBodies(requested.Name);
        var quantizable = entersBodies ? SubgraphQuantization.Reachable(prepared) : QuantizableNode.Find(prepared.Graph);
        List<string> leftFloat = requested is null ? [] : SubgraphQuantization.LeftFloat(requested.Name, prepared.Graph);
        if (leftFloat.Count > 0)
        {
            details["leftFloat"] = new JsonArray(leftFloat.Select(n => (JsonNode)n).ToArray());
            ReportLeftFloat(requested!.Name, leftFloat, input, context.Log);
        }
        // An LSTM counts as a weight matrix for int8-dynamic (DynamicQuantizeLSTM), and so for auto, which tries it.
        var lstmReached = SubgraphQuantization.HasQuantizableLstm(prepared.Graph) && (requested is null || requested.Name == "int8-dynamic");
        if (WhyUnchanged(context, word, requested, prepared, quantizable, lstmReached) is { } unchanged)
        {
            details["result"] = unchanged;
            return new StageOutcome(input, details);
        }
        if (requested is { NeedsCalibration: true } && calibration is null)
            throw new ModelBuildException("MB0204", "Static int8 quantization needs calibration data and none was given.",
                "Pass --calibration-data <x.npy> (a few hundred representative inputs), or use --quantize int8-dynamic.", input);

        var run = StartRun(context, prepared, calibration, perChannel, auto);
        var forms = FormsToTry(context, word, requested, calibration is not null, quantizable, lstmReached, prepared, details);
        var candidates = BuildCandidates(forms, run, calibration, method);
        details["calibrationMethod"] = forms.Any(f => f.NeedsCalibration) ? method.Name() : null;
        var floatLatency = MeasureLatency(run, candidates, details, auto ? null : word);
        var chosen = auto
            ? QuantizationChoice.Auto(candidates, recipe, context.Log)
            : QuantizationChoice.Requested(candidates, recipe.Force, leftFloat, context.Log, slow => FallBack(slow, run));
        WriteChoice(details, candidates, chosen, floatLatency, run.FloatResult);
        return new StageOutcome(chosen?.Path ?? input, details);
    }

    private static Data.InputSet? ReadCalibration(CompressionContext context)
    {
        if (context.Recipe.CalibrationData is null) return null;
        var input = context.CurrentModel;
        var calibration = Data.DataSource.ReadInputSet(context.Recipe.CalibrationData, Data.DataReadOptions.FromRecipe(context.Recipe, input));
        calibration.EnsureFinite();
        using var check = new Evaluation.ModelRunner(input, context.Threads);
        check.CheckData(calibration, "calibration data");
        return calibration;
    }

    /// <summary>Constant and BatchNorm folding and the opset conversion the form needs; whether static int8 gets per-channel scales.</summary>
    private static (ModelProto Prepared, bool PerChannel) PrepareGraph(CompressionContext context, IQuantizationForm? requested, JsonObject details)
    {
        var input = context.CurrentModel;
        context.Log.Progress("quantize: preparing graph (constant folding, BatchNorm folding)");
        var source = OnnxModelAccess.Load(input);
        var staticPerChannel = true;
        var converted = new List<string>();
        ModelProto prepared;
        try
        {
            prepared = GraphPreparation.Prepare(source, input, requested?.MinimumOpset ?? QuantizationForms.AutoOpset, converted);
        }
        catch (ModelBuildException e) when ((requested?.MinimumOpset ?? QuantizationForms.AutoOpset) == GraphPreparation.QuantizationOpset && e.Code == "MB0202")
        {
            // A graph the opset converter cannot take to opset 13 (an operator without a faithful rewrite) cannot take
            // per-channel QDQ; per-tensor QDQ exists from opset 10, so static int8 runs at opset 11 with one scale per weight.
            converted.Clear();
            prepared = GraphPreparation.Prepare(source, input, GraphPreparation.DynamicQuantizationOpset, converted);
            staticPerChannel = false;
            details["note"] = "int8-static is per-tensor (one scale per weight, at opset 11): " + e.Cause;
        }
        details["perChannel"] = staticPerChannel;
        if (converted.Count > 0)
        {
            details["opsetConversion"] = converted[0];
            context.Log.Progress("quantize: converted " + converted[0]);
        }
        return (prepared, staticPerChannel);
    }

    /// <summary>Why no form can improve on the input (warned; the report's "result"), or null when quantizing can go ahead.</summary>
    private static string? WhyUnchanged(CompressionContext context, string word, IQuantizationForm? requested, ModelProto prepared, IReadOnlyList<QuantizableNode> quantizable, bool lstmReached)
    {
        var (input, log) = (context.CurrentModel, context.Log);
        if (quantizable.Count == 0 && !lstmReached && requested?.NeedsQuantizableNodes != false)
        {
            log.Warning("MB0203", $"'{input}' has no operator this quantizer handles (Conv, Gemm, MatMul, Gather of a float table); the output equals the input.",
                "Nothing to do: quantization needs weight-bearing Conv/Gemm/MatMul nodes; drop --quantize for this model.");
            return "unchanged: nothing quantizable";
        }

        // int8-dynamic and int4-weight rewrite only MatMul/Gemm (and Gather tables); a convolution-only model keeps its float form.
        var hasWeightMatrices = lstmReached || quantizable.Any(n => n.Kind is QuantizableKind.Gemm or QuantizableKind.MatMulWeight or QuantizableKind.GatherEmbedding);
        if (requested is { OnlyWeightMatrices: true } && !hasWeightMatrices)
        {
            log.Warning("MB0215", $"{word} quantizes only MatMul/Gemm weights (and Gather tables), and '{input}' has none (its {quantizable.Count} quantizable node(s) are convolutions); the float model is kept.",
                "Use --quantize int8-static with --calibration-data for convolutions, or int8-weights/fp16 for a smaller file.");
            return "unchanged: no MatMul/Gemm for " + word;
        }

        // Weights that the file stores compactly (Constant/ConstantOfShape folded by preparation, e.g. ONNX's "light"
        // models) can make even the smallest encoding larger than the input: say so without building every form.
        var inputFileBytes = new FileInfo(input).Length;
        var weightBytes = prepared.Graph.Initializer.Sum(t => ModelBuild.Onnx.Tensors.TensorData.ByteCount(t));
        var bestCase = (long)(weightBytes * (requested?.BestCaseSizeRatio ?? QuantizationForms.AutoBestCaseSizeRatio));
        if (bestCase > inputFileBytes)
        {
            log.Warning("MB0216", string.Create(CultureInfo.InvariantCulture,
                $"{word} cannot write a file smaller than '{input}' ({inputFileBytes:N0} B): its weights, stored compactly in the file (e.g. as Constant/ConstantOfShape), take {weightBytes:N0} B once materialized, at best {bestCase:N0} B in this form; the float model is kept."),
                "Use a form that reaches this model's weights, or drop --quantize for this model.");
            return "unchanged: every encoding would be larger than the input file";
        }
        return null;
    }

    /// <summary>
    /// What every candidate is judged by: decisions are made against the float input of this stage, on the evaluation
    /// set when there is one (else the calibration data), with the recipe's accuracy gate (auto's defaults for auto).
    /// </summary>
    private QuantizationRun StartRun(CompressionContext context, ModelProto prepared, Data.InputSet? calibration, bool perChannel, bool auto)
    {
        var (input, recipe) = (context.CurrentModel, context.Recipe);
        var decisionData = context.Evaluator.Data ?? calibration;
        var labels = context.Evaluator.Data is not null ? context.Evaluator.LabelData : null;
        var evaluator = new ModelEvaluator(decisionData, labels, context.Threads, 0, output: context.Evaluator.RequestedOutput);
        evaluator.SetReference(input);
        var floatResult = evaluator.Evaluate(input);
        var gate = new AccuracyGate(recipe.MaxAccuracyDrop ?? (auto ? DefaultAutoMaxDrop : null), recipe.MinAgreement ?? (auto ? DefaultAutoMinAgreement : null));
        if (decisionData is null && gate.IsActive)
            context.Log.Warning("MB0208", "The accuracy gate cannot be checked: no evaluation or calibration data was given.", "Pass --eval-data (and --eval-labels) so that quantization can measure what it costs.");
        return new QuantizationRun(prepared, evaluator, floatResult, gate, calibration ?? decisionData, context, perChannel);
    }

    /// <summary>The forms to build: the requested one, or auto's candidates for this model's facts (the registry decides).</summary>
    private static IReadOnlyList<IQuantizationForm> FormsToTry(CompressionContext context, string word, IQuantizationForm? requested, bool hasCalibration,
        IReadOnlyList<QuantizableNode> quantizable, bool lstmReached, ModelProto prepared, JsonObject details)
    {
        var recipe = context.Recipe;
        var preferSize = recipe.PrefersSize();
        var hasMatMul = lstmReached || quantizable.Any(n => n.Kind is QuantizableKind.Gemm or QuantizableKind.MatMulWeight);
        var facts = new QuantizationFacts(hasCalibration, hasMatMul, quantizable.Any(n => n.Kind == QuantizableKind.Conv), preferSize);
        if (requested is null) details["prefer"] = preferSize ? "size" : "latency";
        else if (recipe.Prefer is not null)
            context.Log.Warning("MB0218", $"--prefer {recipe.Prefer.Trim()} applies only to --quantize auto; {word} is written as asked for '{context.CurrentModel}'.",
                "Drop --prefer, or use --quantize auto --prefer size to keep the smallest form that passes the gates.");
        IReadOnlyList<IQuantizationForm> forms = requested is null ? QuantizationForms.AutoCandidates(facts) : [requested];
        if (requested is null)
        {
            // Each candidate says what it leaves float; the report keeps them as "form: node".
            var perForm = forms.SelectMany(f => SubgraphQuantization.LeftFloat(f.Name, prepared.Graph).Select(n => (f.Name, n))).ToList();
            foreach (var group in perForm.GroupBy(p => p.Name)) ReportLeftFloat(group.Key, group.Select(p => p.n).ToList(), context.CurrentModel, context.Log);
            if (perForm.Count > 0) details["leftFloat"] = new JsonArray(perForm.Select(p => (JsonNode)$"{p.Name}: {p.n}").ToArray());
        }
        if (requested?.Note(facts) is { } note)
            details["note"] = note;
        if (requested is null && !hasCalibration)
            details["note"] = "int8-static was not tried: no --calibration-data.";
        return forms;
    }

    /// <summary>Builds and measures every form (calibrating once, for the first that needs it); a file larger than the float input fails.</summary>
    private static List<QuantizationCandidate> BuildCandidates(IReadOnlyList<IQuantizationForm> forms, QuantizationRun run, Data.InputSet? calibration, CalibrationMethod method)
    {
        var context = run.Context;
        var candidates = new List<QuantizationCandidate>();
        foreach (var form in forms)
        {
            context.Log.Progress($"quantize: building {form.Name}");
            if (form.NeedsCalibration && run.Ranges is null)
                run.Ranges = Calibrate(run.Prepared, calibration!, method, context, context.Log);
            candidates.Add(Build(form, run));
        }
        // Do no harm to size either: a form that wrote a larger file than its float input is never kept.
        var inputBytes = new FileInfo(context.CurrentModel).Length;
        foreach (var c in candidates.Where(c => c.Bytes > inputBytes))
            c.SizeFailure = string.Create(CultureInfo.InvariantCulture, $"{c.Bytes:N0} B, larger than the float input's {inputBytes:N0} B");
        return candidates;
    }

    /// <summary>
    /// Latency: the float input and every candidate, interleaved, batch 1, one thread; then the "never slower than
    /// float" gate on each. Returns the float median, or null when latency was not measured (warned).
    /// <paramref name="word"/> is the requested form, null for auto.
    /// </summary>
    private static double? MeasureLatency(QuantizationRun run, List<QuantizationCandidate> candidates, JsonObject details, string? word)
    {
        var context = run.Context;
        var input = context.CurrentModel;
        double? floatLatency = null;
        if (context.LatencyRuns > 0)
        {
            var sample = run.Evaluator.Data ?? SyntheticSample.For(input);
            // Said in the report because a model with symbolic dims (e.g. [N,3,H,W]) runs at whatever size it is fed.
            details["latencyInputShape"] = string.Join(", ", sample.Inputs.Select(i => (i.Name is null || sample.IsSingle ? "" : i.Name + " ")
                + "[" + string.Join(",", i.Tensor.Shape.Select((d, k) => k == i.SampleAxis ? 1 : d)) + "]")) + (run.Evaluator.Data is null ? " (synthetic)" : "");
            context.Log.Progress($"quantize: timing float and {candidates.Count} candidate(s), {context.LatencyRuns} runs each");
            var timing = LatencyMeter.Compare([input, .. candidates.Select(c => c.Path)], sample, context.LatencyRuns);
            floatLatency = timing.Medians[0];
            for (var i = 0; i < candidates.Count; i++)
            {
                candidates[i].LatencyMicroseconds = timing.Medians[i + 1];
                candidates[i].LatencyRatioToFloat = timing.RatiosToFirst[i + 1];
            }
        }
        var latencyGate = new LatencyGate();
        foreach (var c in candidates)
        {
            c.LatencyFailure = FloatKernelMatch.Check(latencyGate, input, floatLatency, c);
            if (LatencyGate.CanCheck(floatLatency, c.LatencyMicroseconds)) c.GatesChecked.Add(LatencyGate.Name);
        }
        if (floatLatency is null)
        {
            // "Never slower than float" cannot hold unmeasured: say so where the choice is reported.
            var why = context.LatencyRuns <= 0 ? "--latency-runs is 0" : $"'{input}' has several inputs and ModelBuild cannot time it";
            details["latency"] = $"not measured ({why}): no candidate was checked against float latency{(word is null ? "; auto chose among the accurate forms by file size" : "")}";
            context.Log.Warning("MB0533", $"quantize: latency was not measured ({why}), so the {(word is null ? "form auto chose" : word + " model")} may be slower than the float model on this CPU.",
                "Let ModelBuild time the models (drop --latency-runs 0), or time both models in the application before shipping the quantized one.");
        }
        return floatLatency;
    }

    /// <summary>The report's account of the choice: float figures, every candidate, and the written (else first) candidate's layers.</summary>
    private static void WriteChoice(JsonObject details, List<QuantizationCandidate> candidates, QuantizationCandidate? chosen, double? floatLatency, EvaluationResult floatResult)
    {
        details["floatLatencyMicroseconds"] = floatLatency is { } fl ? Math.Round(fl, 2) : null;
        details["floatAccuracy"] = floatResult.Accuracy;
        details["chosen"] = chosen?.Form ?? "float (unchanged)";
        details["candidates"] = new JsonArray(candidates.Select(c => (JsonNode)c.ToJson()).ToArray());
        var reported = chosen ?? candidates[0];
        details["layersKeptFloat"] = new JsonArray(reported.KeptFloat.Select(k => (JsonNode)k).ToArray());
        if (reported.LayerSqnr.Count > 0)
            details["layerSqnr"] = new JsonArray(reported.LayerSqnr.Select(s => (JsonNode)new JsonObject
            {
                ["node"] = s.Node, ["op"] = s.OpType, ["sqnrDb"] = double.IsFinite(s.Db) ? Math.Round(s.Db, 2) : null,
                ["float"] = reported.KeptFloat.Contains(s.Node),
            }).ToArray());
        if (reported.OutputSqnrDb is { } osq) details["outputSqnrDb"] = double.IsFinite(osq) ? Math.Round(osq, 2) : null;
    }

    /// <summary>
    /// Besides the recipe settings the schema gives the quantize stage (the form, calibration, the gates auto and the
    /// repair use, --force): how latency is measured (the "do no harm" gate) and auto's default gates.
    /// </summary>
    public StageCacheInputs CacheInputs(CompressionContext context) =>
        new(new { context.LatencyRuns, DefaultAutoMaxDrop, DefaultAutoMinAgreement }, []);

    /// <summary>
    /// Says which weighted nodes <paramref name="form"/> leaves float: MB0219 for those inside subgraphs that int8-static
    /// cannot calibrate, MB0217 for recurrent cells the form has no kernel for.
    /// </summary>
    private static void ReportLeftFloat(string form, List<string> leftFloat, string input, IWorkerLog log)
    {
        var inBodies = leftFloat.Where(n => n.EndsWith(SubgraphQuantization.NotCalibrated, StringComparison.Ordinal)).ToList();
        var cells = leftFloat.Except(inBodies).ToList();
        if (inBodies.Count > 0)
            log.Warning("MB0219", $"{form}: the weights inside subgraphs of '{input}' stay float (calibration observes tensors as graph outputs, which a subgraph's are not): {string.Join(", ", inBodies)}.",
                "Nothing to do for the rest of the model; use int8-dynamic, int8-weights or int4-weight to quantize them too.");
        if (cells.Count > 0)
            log.Warning("MB0217", $"{form}: '{input}' has weights this form does not reach, which stay float: {string.Join(", ", cells)}.",
                "Nothing to do for the rest of the model; int8-dynamic quantizes LSTM weights, fp16 halves every weight; GRU/RNN cells stay float in the int8 forms.");
    }

    private static Dictionary<string, (float, float)> Calibrate(ModelProto prepared, Data.InputSet calibration, CalibrationMethod method, CompressionContext context, IWorkerLog log)
    {
        var plan = new StaticQdqInt8Quantizer().Plan(prepared.Graph);
        // Tensors excluded later by the repair are a subset of this plan, so one calibration serves every attempt.
        var histograms = new CalibrationCollector(context.Threads).Collect(prepared, plan.Tensors, calibration, log.Progress);
        return histograms.ToDictionary(h => h.Key, h => HistogramCalibrator.Range(h.Value, method), StringComparer.Ordinal);
    }

    /// <summary>Builds one form, repairs its accuracy when the form allows it, and measures it (not its latency).</summary>
    private static QuantizationCandidate Build(IQuantizationForm form, QuantizationRun run)
    {
        var (prepared, evaluator, floatResult, gate, sqnrData, context) = (run.Prepared, run.Evaluator, run.FloatResult, run.Gate, run.SqnrData, run.Context);
        var log = context.Log;
        var path = context.WorkPath($"quantize-{form.Name}.onnx");
        var speedRule = context.Recipe.Text(RecipeSchema.Int8SpeedRule)?.Trim().ToLowerInvariant() switch
        {
            "off" => false,
            "on" => true,
            _ => !(context.Recipe.Distill && context.Recipe.QuantizationAware),
        };
        QuantizedModel build(IReadOnlySet<string> excluded) => SubgraphQuantization.Quantize(form, prepared, new QuantizeRequest(excluded, run.Ranges, run.PerChannel, speedRule));
        EvaluationResult Evaluate(QuantizedModel m)
        {
            OnnxModelAccess.Save(m.Model, path);
            return evaluator.Evaluate(path);
        }

        var candidate = new QuantizationCandidate { Form = form.Name, Path = path };
        QuantizedModel model;
        EvaluationResult result;
        if (form.SensitivityRepair && sqnrData is not null)
        {
            var repair = new SensitivityRepair().Run(prepared, build, Evaluate, floatResult, gate, sqnrData, context.Threads, log.Progress);
            (model, result) = (repair.Model, repair.Evaluation);
            candidate.KeptFloat.AddRange(repair.KeptFloat);
            candidate.LayerSqnr = repair.LayerSqnr;
            candidate.AccuracyFailure = repair.Failure;
        }
        else
        {
            model = build(new HashSet<string>());
            result = Evaluate(model);
            candidate.AccuracyFailure = gate.Check(floatResult, result);
        }
        if (form is StaticQdqInt8Quantizer && candidate.AccuracyFailure is null && context.LatencyRuns >= MeasuredExclusion.MinimumRuns
            && string.Equals(context.Recipe.Int8NodeTiming?.Trim(), "on", StringComparison.OrdinalIgnoreCase))
        {
            // Nodes whose int8 form is slower on this CPU stay float (weights int8-stored), if the gate still holds.
            var measured = new MeasuredExclusion().Run(model, candidate.KeptFloat.ToHashSet(StringComparer.Ordinal), build,
                evaluator.Data ?? SyntheticSample.For(context.CurrentModel), context.LatencyRuns, Path.GetDirectoryName(path)!, log.Progress);
            var measuredResult = measured.KeptFloatForSpeed.Count > 0 ? Evaluate(measured.Model) : null;
            if (measuredResult is not null && gate.Check(floatResult, measuredResult) is null)
            {
                (model, result) = (measured.Model, measuredResult);
                candidate.KeptFloatForSpeed.AddRange(measured.KeptFloatForSpeed);
            }
        }
        candidate.KeptFloatForSpeed.InsertRange(0, model.KeptFloatForSpeed.Where(n => !candidate.KeptFloat.Contains(n)));
        OnnxModelAccess.Save(model.Model, path);
        candidate.QuantizedNodes = model.QuantizedNodes;
        candidate.Bytes = new FileInfo(path).Length;
        candidate.Accuracy = result.Accuracy;
        candidate.Agreement = result.Agreement;
        candidate.OutputSqnrDb = result.MinSqnr;
        candidate.GatesChecked.AddRange(gate.Checked(floatResult, result));
        log.Progress(string.Create(CultureInfo.InvariantCulture,
            $"quantize: {candidate.Form} {candidate.Bytes:N0} B, accuracy {Fmt(result.Accuracy)}, agreement {Fmt(result.Agreement)}, SQNR {Fmt(result.MinSqnr)} dB"));
        return candidate;
    }

    /// <summary>The faster variant when the requested form is slower than float: int8 weight storage, which runs at float speed.</summary>
    private static QuantizationCandidate? FallBack(QuantizationCandidate slow, QuantizationRun run)
    {
        if (slow.Form == QuantizationForms.LatencyFallback.Name) return null;
        var candidate = Build(QuantizationForms.LatencyFallback, run);
        var context = run.Context;
        var sample = run.Evaluator.Data ?? SyntheticSample.For(context.CurrentModel);
        if (context.LatencyRuns > 0)
        {
            var timing = LatencyMeter.Compare([context.CurrentModel, candidate.Path], sample, context.LatencyRuns);
            candidate.LatencyMicroseconds = timing.Medians[1];
            candidate.LatencyRatioToFloat = timing.RatiosToFirst[1];
            candidate.LatencyFailure = FloatKernelMatch.Check(new LatencyGate(), context.CurrentModel, timing.Medians[0], candidate);
            candidate.GatesChecked.Add(LatencyGate.Name);
        }
        return candidate;
    }

    private static string Fmt(double? v) => v is null ? "-" : v.Value.ToString("0.00", CultureInfo.InvariantCulture);
}
