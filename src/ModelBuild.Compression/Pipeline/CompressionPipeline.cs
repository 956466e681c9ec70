using System.Diagnostics;
using System.Globalization;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Pipeline.SessionTuning;
using ModelBuild.Compression.Quantization;
using ModelBuild.Compression.StageContract;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Pipeline;

/// <summary>
/// Recipe -> ordered stages -> output model + report. Measures the teacher, runs each requested stage in
/// <see cref="ICompressionStage.Order"/> (distill, prune, quantize), measures after each, applies the quality gates
/// and only then writes the output (temp file + rename). The report is written even when a gate fails, so the
/// build error can point at it.
/// </summary>
public sealed class CompressionPipeline
{
    private readonly IReadOnlyList<ICompressionStage> _stages;

    public CompressionPipeline(IEnumerable<ICompressionStage> stages) => _stages = stages.OrderBy(s => s.Order).ToList();

    /// <summary>The stages this build knows; each technique adds itself with one line in <see cref="StageCatalog"/>.</summary>
    public static CompressionPipeline CreateDefault() => new(StageCatalog.All());

    public int LatencyRuns { get; init; } = LatencyMeter.DefaultRuns;

    /// <summary>Folder of the per-stage cache (<c>--stage-cache</c>); null runs every stage.</summary>
    public string? StageCacheDirectory { get; init; }

    /// <summary>
    /// The team's remote cache (<c>--remote-cache</c>), used behind the stage cache: a local stage miss is looked up
    /// remotely (so a changed Quantize reuses a remote distilled student), and in ReadWrite mode each stage output is
    /// uploaded. Null, or without <see cref="StageCacheDirectory"/>, nothing remote happens.
    /// </summary>
    public RemoteCache.RemoteCacheClient? RemoteCache { get; init; }

    /// <summary>
    /// The key that names the result (the report's <c>cacheKey</c>): the build task passes the key of the cache entry
    /// the result goes into (<c>--cache-key</c>); null computes it from the recipe with <see cref="ContentKey.OfResult"/>.
    /// </summary>
    public string? ResultKey { get; init; }

    /// <summary>The tool versions every key of this run covers (the worker's own deps file).</summary>
    private readonly ToolVersions _versions = ToolVersions.OfThisProcess();

    public CompressionReport Run(CompressionRecipe recipe, IWorkerLog log, string? reportPath = null)
    {
        Validate(recipe, LatencyRuns);
        var work = Directory.CreateTempSubdirectory("modelbuild-").FullName;
        var report = new CompressionReport();
        try
        {
            var evaluator = ReadEvaluation(recipe, log);
            var data = evaluator.Data;
            var context = new CompressionContext(recipe, work, log, evaluator) { LatencyRuns = LatencyRuns, StageCacheDirectory = StageCacheDirectory };
            // Without evaluation data every input of the model gets a generated sample, so latency is always measured.
            var timingSample = data ?? SyntheticSample.For(recipe.Teacher);
            using (var runner = new ModelRunner(recipe.Teacher))
            {
                report.Inputs = runner.Bind(timingSample, "evaluation data").Inputs.Select(i => $"{i.Name} {i.Tensor.ShapeText} {i.Tensor.ElementTypeName}{(data is null || DataInputHash.IsGenerated(recipe.EvaluationData ?? "") ? " (generated)" : "")}").ToList();
                report.MetricOutput = evaluator.Output ?? ModelEvaluator.ChooseOutput(runner.OutputNames, recipe.MetricOutput, recipe.Teacher);
            }

            report.Teacher = Figures(recipe.Teacher, evaluator, recipe.Teacher);
            // A gate whose figure the teacher itself does not give (no class to compare) is refused before any work.
            if (recipe.MaxAccuracyDrop is not null && report.Teacher.Accuracy is null) throw NotMeasured(recipe, "accuracy");
            if (recipe.MinAgreement is not null && report.Teacher.Agreement is null) throw NotMeasured(recipe, "agreement");
            context.TeacherFigures = report.Teacher;
            context.CurrentFigures = report.Teacher;

            var stageModels = new List<string>();
            WarnAboutUnusedSettings(recipe, _stages, log);
            var cache = StageCacheDirectory is null ? null : new StageCache(StageCacheDirectory);
            foreach (var stage in _stages.Where(s => s.IsRequested(recipe)))
            {
                var stageReport = RunStage(stage, context, cache, evaluator, log);
                if (stageReport is null) continue;
                report.Stages.Add(stageReport);
                stageModels.Add(stageReport.Path);
                context.CurrentModel = stageReport.Path;
                context.CurrentFigures = stageReport;
                log.Stage(stage.Name, stageReport.Seconds);
            }

            // Latencies of the teacher and every stage output, measured interleaved so they are comparable.
            if (LatencyRuns > 0)
            {
                log.Progress($"timing {stageModels.Count + 1} model(s), batch 1, {LatencyRuns} runs each");
                var medians = LatencyMeter.MeasureMedians([recipe.Teacher, .. stageModels], timingSample, LatencyRuns);
                report.Teacher.LatencyMicroseconds = medians[0];
                for (var i = 0; i < report.Stages.Count; i++) report.Stages[i].LatencyMicroseconds = medians[i + 1];
            }

            // Intermediate files live in the work folder, which is deleted; the last stage's file is the output.
            if (report.Stages.Count > 0) report.Stages[^1].Path = Path.GetFullPath(recipe.Output);
            var final = report.Stages.Count > 0 ? report.Stages[^1] : report.Teacher;
            report.Result = new ModelFigures
            {
                Path = Path.GetFullPath(recipe.Output), Bytes = final.Bytes, Parameters = final.Parameters,
                LatencyMicroseconds = final.LatencyMicroseconds, Accuracy = final.Accuracy, Agreement = final.Agreement,
            };
            report.CacheKey = ResultKey ?? ContentKey.OfResult(recipe, _versions);
            var tuning = TunesSession(recipe, LatencyRuns) ? TuneSession(stageModels.Count > 0 ? stageModels[^1] : recipe.Teacher, timingSample, log) : null;
            if (tuning is not null) report.Session = SessionSettingsSidecar.ToJson(tuning, modelSha256: null);
            if (log is IRecordsWarnings recorder) report.Warnings.AddRange(recorder.Warnings);

            report.Summary = ReportSummary.Line(report);
            var gateFailure = CheckGates(recipe, report, reportPath);
            if (gateFailure is not null) report.Gate = ReportSummary.Gate(recipe, report);
            if (reportPath is not null) ReportWriter.Write(report, reportPath);
            if (gateFailure is not null) throw gateFailure;

            ModelBuild.Onnx.AtomicFile.Copy(stageModels.Count > 0 ? stageModels[^1] : recipe.Teacher, recipe.Output);
            WriteSessionSidecar(recipe, tuning, log);
            log.Summary(report.Summary);
            return report;
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// The evaluation set, read once for the whole run (the stages get it through <see cref="CompressionContext.Evaluator"/>),
    /// with the teacher as the reference. Labels come from the evaluation data itself (label column, class subfolders)
    /// or from EvaluationLabels.
    /// </summary>
    private ModelEvaluator ReadEvaluation(CompressionRecipe recipe, IWorkerLog log)
    {
        var evaluationSet = recipe.EvaluationData is null ? null
            : DataSource.Read(recipe.EvaluationData, DataReadOptions.FromRecipe(recipe, recipe.Teacher), recipe.EvaluationLabels);
        var data = evaluationSet?.Inputs;
        data?.EnsureFinite();
        var labels = evaluationSet?.LabelTensor;
        if (recipe.MaxAccuracyDrop is not null && data is not null && labels is null)
            throw new ModelBuildException("MB0531",
                $"--max-accuracy-drop (MaxAccuracyDrop) is set but the evaluation data '{recipe.EvaluationData}' has no labels, so accuracy cannot be measured and the gate would not be checked.",
                "Pass --eval-labels <y.npy> (EvaluationLabels on the item) or a label column / class folders in the data, or gate on --min-agreement instead.", recipe.EvaluationData);
        var evaluator = new ModelEvaluator(data, labels, recipe.Threads ?? 1, LatencyRuns, output: recipe.MetricOutput);
        if (recipe.Tokenizer is not null) log.Progress(Data.Text.TextFileReader.Describe(recipe.Tokenizer, recipe.Teacher));
        // With a teacher endpoint the model given is the student before distillation: agreement with it would
        // mean nothing, and agreement with the endpoint would cost calls, so only accuracy is measured.
        log.Progress(recipe.TeacherEndpoint is null ? $"evaluating teacher {recipe.Teacher}" : $"evaluating the untrained student {recipe.Teacher} (the teacher is an endpoint)");
        if (recipe.TeacherEndpoint is null) evaluator.SetReference(recipe.Teacher);
        return evaluator;
    }

    /// <summary>
    /// One stage: its output from the stage cache (local, then remote) or from running it, stored back, and measured.
    /// Null when the stage found nothing to do (it is left out of the report).
    /// </summary>
    private StageReport? RunStage(ICompressionStage stage, CompressionContext context, StageCache? cache, ModelEvaluator evaluator, IWorkerLog log)
    {
        var recipe = context.Recipe;
        var clock = Stopwatch.StartNew();
        var cacheInputs = cache is null ? null : stage.CacheInputs(context) is { } own ? StageCacheInputs.WithRecipe(stage.Name, recipe, own) : null;
        var key = cacheInputs is null ? null : ContentKey.OfStage(stage.Name, context.CurrentModel, cacheInputs.Settings, cacheInputs.Files, _versions);
        var cached = key is null ? null : cache!.TryGet(key, context.WorkPath($"{stage.Name}-cached.onnx"));
        if (cached is null && key is not null && RemoteCache is not null
            && RemoteCache.TryFetch(ModelBuild.Compression.RemoteCache.RemoteCacheLayout.StageKind, key, cache!.EntryDirectory(key), $"{stage.Name} stage"))
        {
            cached = cache.TryGet(key, context.WorkPath($"{stage.Name}-cached.onnx"));
        }
        StageOutcome outcome;
        if (cached is not null)
        {
            log.Progress($"{stage.Name}: cache hit {key}");
            outcome = new StageOutcome(context.WorkPath($"{stage.Name}-cached.onnx"), cached.Details);
        }
        else
        {
            if (key is not null) log.Progress($"{stage.Name}: cache miss {key}");
            log.Progress($"{stage.Name}: starting");
            outcome = stage.Run(context);
            if (outcome.NotApplicable)
            {
                log.Progress($"{stage.Name}: nothing to do");
                return null;
            }
            if (key is not null) StoreInCache(cache!, key, stage.Name, outcome, clock.Elapsed.TotalSeconds, log);
        }
        // Write-back also for a local hit: the entry may have been made while the remote cache was read-only.
        if (key is not null && RemoteCache is { CanWrite: true } && Directory.Exists(cache!.EntryDirectory(key)))
            RemoteCache.Publish(ModelBuild.Compression.RemoteCache.RemoteCacheLayout.StageKind, key, cache.EntryDirectory(key), $"{stage.Name} stage");
        var seconds = clock.Elapsed.TotalSeconds;
        var figures = Figures(outcome.ModelPath, evaluator, outcome.ModelPath);
        return new StageReport
        {
            Name = stage.Name, Seconds = seconds, Details = outcome.Details,
            Path = outcome.ModelPath, Bytes = figures.Bytes, Parameters = figures.Parameters,
            Accuracy = figures.Accuracy, Agreement = figures.Agreement,
            CacheKey = key, CacheHit = cached is not null,
        };
    }

    /// <summary>Session tuning runs unless turned off, or timing is skipped altogether (--latency-runs 0).</summary>
    private static bool TunesSession(CompressionRecipe recipe, int latencyRuns) =>
        latencyRuns > 0 && !string.Equals(recipe.TuneSession?.Trim(), "off", StringComparison.OrdinalIgnoreCase);

    private static SessionTuningResult TuneSession(string model, InputSet sample, IWorkerLog log)
    {
        using var probe = new OrtSessionLatencyProbe(model, sample, TimeSpan.FromMilliseconds(20));
        // About 7 x 7 rounds of 20 ms for a fast model; a model slower than 20 ms per run gets 3 rounds of one run each.
        var tuner = new SessionTuner(Environment.ProcessorCount, probe.SingleRunMicroseconds(SessionCandidate.PoolDefault) > 20_000 ? 3 : SessionTuner.DefaultRounds);
        log.Progress($"session: timing intra-op threads {string.Join(",", tuner.ThreadCounts())}, and optimization levels at batch 1");
        var result = tuner.Tune(probe);
        log.Progress(result.IsDefault
            ? Invariant($"session: the default ({result.Chosen}, {result.DefaultMicroseconds:0.0} us) stays; nothing was {SessionTuner.RequiredGain * 100:0}% faster")
            : Invariant($"session: {result.Chosen}: {result.ChosenMicroseconds:0.0} us against {result.DefaultMicroseconds:0.0} us with the default"));
        return result;
    }

    /// <summary>
    /// The tuned settings go beside the output, not into it (the model's bytes stay deterministic). Without tuning a
    /// sidecar left from an earlier run is removed, so it cannot describe a model it was not measured for.
    /// </summary>
    private static void WriteSessionSidecar(CompressionRecipe recipe, SessionTuningResult? tuning, IWorkerLog log)
    {
        var path = SessionSettingsSidecar.PathFor(Path.GetFullPath(recipe.Output));
        try
        {
            if (tuning is not null) SessionSettingsSidecar.Write(recipe.Output, tuning);
            else if (File.Exists(path)) File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning("MB0250", $"The session settings file '{path}' could not be {(tuning is null ? "removed" : "written")}: {e.Message}",
                "Make the output folder writable (or remove what is in the way at that path); the model itself was written. The runtime pool uses its own settings without this file.");
        }
    }

    private static void StoreInCache(StageCache cache, string key, string stage, StageOutcome outcome, double seconds, IWorkerLog log)
    {
        try
        {
            cache.Store(key, outcome.ModelPath, outcome.Details, seconds);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.Warning("MB0516", $"The {stage} stage's output could not be stored in the stage cache '{cache.Directory}': {e.Message}",
                "Point --stage-cache (ModelBuildCacheDir in a build) at a writable folder; the result itself is not affected.");
        }
    }

    /// <summary>
    /// Settings of a stage that is not requested are ignored; say so instead of silently doing less than asked. Which
    /// settings and which stages come from <see cref="RecipeSchema"/> (WarnWhenUnused, UsedBy), grouped by owner.
    /// </summary>
    private static void WarnAboutUnusedSettings(CompressionRecipe recipe, IReadOnlyList<ICompressionStage> stages, IWorkerLog log)
    {
        var requested = stages.Where(s => s.IsRequested(recipe)).Select(s => s.Name).ToHashSet();
        var unused = RecipeSchema.Settings
            .Where(s => s.WarnWhenUnused && s.IsSet(recipe) && !s.UsedBy.Any(requested.Contains))
            .GroupBy(s => s.Stage);
        foreach (var group in unused)
        {
            var options = string.Join(", ", group.Select(s => s.Option));
            var (what, why, remedy) = group.Key switch
            {
                RecipeSchema.Distill => ("Distillation", "distillation is not requested", "Add --distill (Distill=\"true\" on the item) to distill"),
                RecipeSchema.Prune => ("Pruning", "no --prune fraction", "Add --prune <fraction> (Prune=\"0.5\" on the item) to prune"),
                _ => ($"The {group.Key} stage's", $"the {group.Key} stage is not requested", $"Request the {group.Key} stage"),
            };
            log.Warning("MB0515", $"{what} settings ({options}) are given but {why}; they are ignored.", $"{remedy}, or remove these settings.");
        }
    }

    private static ModelFigures Figures(string path, ModelEvaluator evaluator, string displayPath)
    {
        var model = OnnxModelAccess.Load(path);
        var evaluation = evaluator.HasData ? evaluator.Evaluate(path) : null;
        return new ModelFigures
        {
            Path = Path.GetFullPath(displayPath),
            Bytes = new FileInfo(path).Length,
            Parameters = OnnxModelAccess.CountParameters(model),
            Accuracy = evaluation?.Accuracy,
            Agreement = evaluation?.Agreement,
        };
    }

    /// <summary>
    /// The final gates. A gate the user asked for is checked or the run fails: Validate and Run refuse a gate whose
    /// figure cannot be measured before any work is done; a figure still missing here is a bug, not a pass.
    /// </summary>
    private static QualityGateException? CheckGates(CompressionRecipe recipe, CompressionReport report, string? reportPath)
    {
        var where = reportPath is null ? "" : $" See {reportPath}.";
        if (recipe.MaxAccuracyDrop is { } maxDrop)
        {
            if (report.Teacher.Accuracy is not { } ta || report.Result.Accuracy is not { } ra)
                throw NotMeasured(recipe, "accuracy");
            if (ta - ra > maxDrop + 1e-9)
                return new QualityGateException("MB0520",
                    Invariant($"The compressed model loses {ta - ra:0.00} accuracy points ({ta:0.00}% -> {ra:0.00}%), more than the allowed {maxDrop:0.00}.{where}"),
                    "Raise MaxAccuracyDrop (--max-accuracy-drop), compress less (milder pruning, int8 instead of int4), or give more calibration/training data.", recipe.Teacher);
        }
        if (recipe.MinAgreement is { } minAgreement)
        {
            if (report.Result.Agreement is not { } agreement)
                throw NotMeasured(recipe, "agreement");
            if (agreement < minAgreement - 1e-9)
                return new QualityGateException("MB0521",
                    Invariant($"The compressed model agrees with the teacher on {agreement:0.00}% of the evaluation samples, under the required {minAgreement:0.00}%.{where}"),
                    "Lower MinAgreement (--min-agreement) or compress less.", recipe.Teacher);
        }
        if (recipe.MaxLatencyMicroseconds is { } maxLatency)
        {
            if (report.Result.LatencyMicroseconds is not { } latency)
                throw new InvalidOperationException("The latency gate is set but latency was not measured.");
            if (latency > maxLatency)
                return new QualityGateException("MB0522",
                    Invariant($"The compressed model takes {latency:0.0} us at batch 1, over the allowed {maxLatency:0.0} us.{where}"),
                    "Raise MaxLatencyMicroseconds or compress more (pruning, int8).", recipe.Teacher);
        }
        return null;
    }

    /// <summary>A gate whose figure the evaluation could not give (the model's first output has no class to compare).</summary>
    private static ModelBuildException NotMeasured(CompressionRecipe recipe, string figure) =>
        new("MB0535", $"A gate on {figure} is set but {figure} could not be measured: the model's first output gives one float per sample, so there is no predicted class to compare.",
            "Gate a classifier whose first output is class scores [N,classes] or an integer label [N], or remove --max-accuracy-drop/--min-agreement.", recipe.Teacher);

    private static ModelBuildException LatencyGateNotMeasurable(CompressionRecipe recipe, string why) =>
        new("MB0532", $"--max-latency-us (MaxLatencyMicroseconds) is set but {why}, so the latency gate would not be checked.",
            "Let ModelBuild time the model (drop --latency-runs 0), or remove the latency gate and time the model in the application.", recipe.Teacher);

    private static void Validate(CompressionRecipe recipe, int latencyRuns)
    {
        if (string.IsNullOrWhiteSpace(recipe.Teacher))
            throw new ModelBuildException("MB0511", "No teacher model was given.", "Pass the model to compress: modelbuild compress <teacher.onnx> -o <out.onnx> (or \"teacher\" in the recipe).");
        if (!File.Exists(recipe.Teacher)) throw OnnxErrors.ModelFileNotFound(recipe.Teacher);
        if (string.IsNullOrWhiteSpace(recipe.Output))
            throw new ModelBuildException("MB0511", "No output path was given.", "Pass -o <out.onnx> (or \"output\" in the recipe).", recipe.Teacher);
        if (recipe.EvaluationLabels is not null && recipe.EvaluationData is null)
            throw new ModelBuildException("MB0512", "Evaluation labels were given without evaluation data.", "Pass --eval-data <x.npy> together with --eval-labels.", recipe.EvaluationLabels);
        if ((recipe.MaxAccuracyDrop is not null || recipe.MinAgreement is not null) && recipe.EvaluationData is null)
            throw new ModelBuildException("MB0530",
                $"{(recipe.MaxAccuracyDrop is not null ? "--max-accuracy-drop (MaxAccuracyDrop)" : "--min-agreement (MinAgreement)")} is set but no evaluation data is given, so the gate would not be checked.",
                "Pass --eval-data <x.npy> (and --eval-labels <y.npy> for accuracy), EvaluationData on the item or \"evaluationData\" in the recipe; or remove the gate.", recipe.Teacher);
        if (recipe.MaxLatencyMicroseconds is not null && latencyRuns <= 0)
            throw LatencyGateNotMeasurable(recipe, "--latency-runs is 0 (timing is skipped)");
        if (Path.GetFullPath(recipe.Output) == Path.GetFullPath(recipe.Teacher))
            throw new ModelBuildException("MB0511", "The output path is the teacher itself.", "Write the compressed model to a different file.", recipe.Teacher);
        var quantize = QuantizationForms.Parse(recipe.Quantize);
        if (recipe.QuantizationAware && recipe.Distill && quantize != StaticQdqInt8Quantizer.FormName)
            throw new ModelBuildException("MB0518",
                $"Quantization-aware distillation trains the student for the int8-static step, but the quantization form is '{recipe.Quantize ?? "none"}'.",
                "Add --quantize int8-static with --calibration-data (Quantize=\"int8-static\" and CalibrationData on the item), or drop --quantization-aware.", recipe.Teacher);
        if (recipe.TeacherEndpoint is not null && (recipe.MinAgreement is not null || recipe.MaxAccuracyDrop is not null))
            throw new ModelBuildException("MB0365",
                $"{(recipe.MinAgreement is not null ? "--min-agreement (MinAgreement)" : "--max-accuracy-drop (MaxAccuracyDrop)")} is set, but the teacher is an endpoint: the teacher's figures are not measured (every evaluation row would be a paid call), so the gate could not be checked.",
                "Remove the gate and read the result's accuracy in the report (--eval-data with labels), or distill from the teacher as an ONNX file.", recipe.Teacher);
        OneOf("prune mode", nameof(CompressionRecipe.PruneMode), recipe.PruneMode, recipe.Teacher);
        OneOf("distillation loss", nameof(CompressionRecipe.Loss), recipe.Loss, recipe.Teacher);
        OneOf("train-time BatchNorm mode", nameof(CompressionRecipe.TrainBatchNorm), recipe.TrainBatchNorm, recipe.Teacher);
        OneOf("session tuning", nameof(CompressionRecipe.TuneSession), recipe.TuneSession, recipe.Teacher);
        OneOf("graph optimization", nameof(CompressionRecipe.Optimize), recipe.Optimize, recipe.Teacher);
        if (recipe.CalibrationMethod is not null) CalibrationMethodNames.Parse(recipe.CalibrationMethod);
    }

    /// <summary>The allowed words are the schema's (the same list the task and the docs use).</summary>
    private static void OneOf(string what, string metadata, string? value, string teacher)
    {
        var setting = RecipeSchema.Get(metadata);
        var (option, words) = (setting.Option, setting.Words);
        if (value is null || words.Contains(value.Trim().ToLowerInvariant())) return;
        throw new ModelBuildException("MB0517", $"The {what} '{value}' is not one of {string.Join(", ", words)}.",
            $"Pass {option} {string.Join("|", words)} (or the same word in the recipe / item metadata).", teacher);
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
