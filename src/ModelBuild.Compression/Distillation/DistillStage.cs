using System.Globalization;
using System.Text.Json.Nodes;
using ModelBuild.Compression.Distillation.Losses;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.StageContract;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// The distill stage: trains a student (the <c>Student</c> file, or one derived from the teacher by
/// <c>StudentWidth</c>/<c>StudentDepth</c>) against the stage's input model with <see cref="StudentDistiller"/>,
/// and hands the student on to pruning and quantization. It runs first, so its teacher is the recipe's teacher.
/// </summary>
public sealed class DistillStage : ICompressionStage
{
    public string Name => "distill";
    public int Order => 100;

    public bool IsRequested(CompressionRecipe recipe) => recipe.Distill;

    public StageOutcome Run(CompressionContext context)
    {
        var options = Options(context.Recipe, context.CurrentModel, context.WorkPath("distill.onnx"), context.Threads, context.StageCacheDirectory);
        if (options.TeacherEndpoint is { } endpoint)
            context.Log.Progress($"distill: teacher endpoint {Teachers.EndpointTeacher.Describe(endpoint.Url)}, {(endpoint.AnswerCacheDirectory is null ? "no answers cache (no --stage-cache)" : "answers cached in the stage cache")}");
        var result = StudentDistiller.Distill(options, new LogProgress(context.Log));
        context.Log.Progress($"distill: student initialized from {result.Initialization}" + (result.LayerMap is { } map ? $"; layer map: {map}" : ""));
        if (result.TeacherCalls is { } calls)
            context.Log.Progress(string.Create(CultureInfo.InvariantCulture, $"distill: teacher endpoint answered {calls.Batches} request(s) ({calls.Answer}): {calls.CallsMade} call(s) made ({calls.Retries} retries), {calls.CallsCached} from the answers cache, {calls.Seconds:F1}s"));
        var details = new JsonObject
        {
            ["teacher"] = result.TeacherCalls is { } tc ? "endpoint " + tc.Endpoint : null,
            ["teacherCalls"] = result.TeacherCalls is { } c ? new JsonObject
            {
                ["answer"] = c.Answer, ["requests"] = c.Batches, ["callsMade"] = c.CallsMade, ["callsCached"] = c.CallsCached,
                ["retries"] = c.Retries, ["seconds"] = Math.Round(c.Seconds, 2),
            } : null,
            ["student"] = options.StudentPath is { } sp ? Path.GetFileName(sp)
                : string.Create(CultureInfo.InvariantCulture, $"derived from the teacher (width x{options.StudentWidth ?? 1.0}, depth x{options.StudentDepth ?? 1.0}, FFN width x{options.StudentFfnWidth ?? options.StudentWidth ?? 1.0})"),
            ["initialization"] = result.Initialization,
            ["trainingData"] = options.TrainingData is null ? (options.Synthetic is null ? null : "none: DeepInversion from the teacher's BatchNorm statistics") : Path.GetFileName(options.TrainingData),
            ["trainingLabels"] = options.Synthetic is not null ? "none (synthetic inputs, labelled by the teacher)"
                : options.TrainingData is null ? null
                : Data.DataSource.DescribeLabels(options.TrainingData, options.DataOptions!, options.TrainingLabels) ?? "none (pure KD on the teacher's outputs)",
            ["synthetic"] = options.Synthetic,
            ["loss"] = options.Loss.ToString().ToLowerInvariant(),
            ["layerMap"] = result.LayerMap,
            ["epochs"] = options.Epochs,
            ["epochsRun"] = result.EpochsRun,
            ["selectedEpoch"] = result.SelectedEpoch,
            ["trainTimeBatchNorms"] = result.TrainTimeBatchNorms,
            ["revivedOutputs"] = result.RevivedOutputs.Count > 0 ? new JsonArray(result.RevivedOutputs.Select(r => (JsonNode)r).ToArray()) : null,
            ["validationSplit"] = options.ValidationData is null ? options.ValidationFraction : null,
            ["validationData"] = options.ValidationData is { } vd ? Path.GetFileName(vd) : null,
            ["augment"] = result.Augment,
            ["augmentedSamples"] = result.Augment > 0 ? result.AugmentedSamples : null,
            ["validationSamples"] = result.ValidationSamples,
            ["validationAgreement"] = Round(result.ValidationAgreement),
            ["validationAccuracy"] = Round(result.ValidationAccuracy),
            ["patience"] = options.EarlyStoppingPatience,
            ["selectedSeed"] = options.Seeds > 1 ? result.SelectedSeed : null,
            ["seeds"] = options.Seeds > 1 ? new JsonArray(result.SeedRuns!.Select(s => (JsonNode)new JsonObject
            {
                ["seed"] = s.Seed, ["epochsRun"] = s.EpochsRun, ["selectedEpoch"] = s.SelectedEpoch,
                ["validationAgreement"] = Round(s.ValidationAgreement), ["validationAccuracy"] = Round(s.ValidationAccuracy),
                ["validationLoss"] = s.ValidationLoss is { } l ? Math.Round(l, 6) : null, ["trainingSeconds"] = Math.Round(s.TrainingSeconds, 2),
            }).ToArray()) : null,
            ["batchSize"] = options.BatchSize,
            ["learningRate"] = result.LearningRate,
            ["warmupFraction"] = options.WarmupFraction,
            ["temperature"] = options.Temperature,
            ["alpha"] = options.Alpha,
            ["dropout"] = result.Dropout,
            ["weightDecay"] = options.WeightDecay,
            ["labelSmoothing"] = options.LabelSmoothing,
            ["quantizationAware"] = options.QuantizationAware,
            ["seed"] = options.Seed,
            ["studentParameters"] = result.StudentParameters,
            ["trainingSamples"] = result.TrainingSamples,
            ["finalTrainLoss"] = Math.Round(result.FinalTrainLoss, 6),
            ["trainingSeconds"] = Math.Round(result.TrainingSeconds, 2),
            ["samplesPerSecond"] = Math.Round(result.SamplesPerSecond, 0),
        };
        return new StageOutcome(result.OutputPath, details);
    }

    /// <summary>A fraction as a percentage with two decimals, as the report shows accuracy.</summary>
    static double? Round(double? fraction) => fraction is { } f ? Math.Round(f * 100, 2) : null;

    /// <summary>The default validation split of the pipeline (the engine's own default is none).</summary>
    public const double DefaultValidationSplit = 0.1;

    /// <summary>Besides the recipe settings the schema gives the distill stage: the threads (they change float sums).</summary>
    public StageCacheInputs CacheInputs(CompressionContext context) => new(new { context.Threads }, []);

    /// <summary>The recipe's distillation settings as engine options; unset values keep the engine's defaults.</summary>
    public static DistillationOptions Options(CompressionRecipe r, string teacher, string output, int threads, string? stageCacheDirectory = null)
    {
        var defaults = new DistillationOptions { TeacherPath = teacher, OutputPath = output };
        // With an endpoint teacher the model given is the student (unless --student names one), and the data is read for it.
        var student = r.TeacherEndpoint is null ? r.Student : r.Student ?? teacher;
        if (r.TeacherEndpoint is not null) teacher = student!;
        var loss = ParseLoss(r.Loss);
        var pairs = r.FeaturePairs is null ? Array.Empty<FeaturePair>() : ParsePairs(r.FeaturePairs);
        return new DistillationOptions
        {
            TeacherPath = teacher,
            OutputPath = output,
            StudentPath = student,
            TeacherEndpoint = r.TeacherEndpoint is null ? null : new Teachers.EndpointTeacherOptions
            {
                Url = r.TeacherEndpoint,
                TokenEnvironmentVariable = r.TeacherEndpointTokenEnv,
                HeaderName = r.TeacherEndpointHeader,
                MaxCalls = r.TeacherMaxCalls,
                BatchSize = r.TeacherBatchSize ?? 64,
                Timeout = r.TeacherTimeout is { } seconds && seconds > 0 && double.IsFinite(seconds) ? TimeSpan.FromSeconds(Math.Min(seconds, 86400)) : TimeSpan.FromSeconds(60),
                AnswerCacheDirectory = stageCacheDirectory is null ? null : Path.Combine(stageCacheDirectory, CacheRetention.TeacherAnswersFolder),
            },
            StudentWidth = r.StudentWidth,
            StudentDepth = r.StudentDepth,
            StudentFfnWidth = r.StudentFfnWidth,
            Reinitialize = r.Reinitialize,
            TrainingData = r.TrainingData,
            TrainingLabels = r.TrainingLabels,
            Synthetic = r.Synthetic,
            DataOptions = Data.DataReadOptions.FromRecipe(r, teacher),
            Epochs = r.Epochs ?? defaults.Epochs,
            BatchSize = r.BatchSize ?? defaults.BatchSize,
            LearningRate = r.LearningRate,
            WarmupFraction = r.Number(RecipeSchema.WarmupFraction),
            Temperature = r.Temperature ?? defaults.Temperature,
            Alpha = r.Alpha ?? defaults.Alpha,
            Dropout = r.Dropout ?? defaults.Dropout,
            WeightDecay = r.WeightDecay ?? defaults.WeightDecay,
            LabelSmoothing = r.LabelSmoothing ?? defaults.LabelSmoothing,
            QuantizationAware = r.QuantizationAware,
            Loss = loss,
            FeaturePairs = loss == DistillationLossKind.Feature ? pairs : Array.Empty<FeaturePair>(),
            RelationTensors = loss == DistillationLossKind.Relation ? pairs.FirstOrDefault() : null,
            Seed = r.Seed,
            // A validation file replaces the default split; both given explicitly is MB0370.
            ValidationFraction = r.ValidationSplit ?? (r.ValidationData is null ? DefaultValidationSplit : 0),
            ValidationData = r.ValidationData,
            Augment = r.Augment,
            TrainBatchNorm = r.TrainBatchNorm?.Trim().ToLowerInvariant() switch
            {
                "off" => Students.TrainBatchNormMode.Off,
                null or "" or "auto" => Students.TrainBatchNormMode.Auto,
                "on" => Students.TrainBatchNormMode.On,
                _ => throw new InvalidOperationException($"Unknown --train-batchnorm '{r.TrainBatchNorm}' (the pipeline validates it first)."),
            },
            EarlyStoppingPatience = r.Patience,
            Seeds = r.Seeds ?? 1,
            Threads = threads,
        };
    }

    private static DistillationLossKind ParseLoss(string? loss) => loss?.Trim().ToLowerInvariant() switch
    {
        null or "" or "response" => DistillationLossKind.Response,
        "feature" => DistillationLossKind.Feature,
        "relation" => DistillationLossKind.Relation,
        "layerwise" => DistillationLossKind.Layerwise,
        _ => throw new InvalidOperationException($"Unknown loss '{loss}' (the pipeline validates it first)."),
    };

    private static IReadOnlyList<FeaturePair> ParsePairs(string text)
    {
        try { return FeaturePair.ParseList(text); }
        catch (FormatException e) { throw DistillationErrors.InvalidOption("--feature-pairs", e.Message); }
    }

    /// <summary>
    /// One progress line per epoch, in the worker protocol (the build shows them; the CLI prints them), and the
    /// distiller's other progress lines (data-free synthesis).
    /// </summary>
    private sealed class LogProgress(IWorkerLog log) : IProgress<DistillationProgress>, IProgress<string>
    {
        public void Report(DistillationProgress value) => log.Progress("distill: " + value.ToString());

        public void Report(string value) => log.Progress("distill: " + value);
    }
}
