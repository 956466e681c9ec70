using System.CommandLine;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.RemoteCache;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// <c>modelbuild compress</c>: the recipe from <c>--recipe</c> (JSON) and/or the options, then the pipeline.
/// Options given on the command line override the recipe. Exit 0 success, 1 failed quality gate, 2 bad input.
/// </summary>
internal static class CompressCommand
{
    public static Command Create()
    {
        var teacher = new Argument<string?>("teacher") { Description = "The float ONNX model to compress.", Arity = ArgumentArity.ZeroOrOne };
        var output = new Option<string?>("--output", "-o") { Description = "Where to write the compressed model." };
        var recipe = new Option<string?>("--recipe") { Description = "A CompressionRecipe JSON file; command-line options override its values." };
        var quantize = new Option<string?>("--quantize") { Description = "none | int8-dynamic | int8-static | int8-weights | int4-weight | fp16 | auto" };
        var calibration = new Option<string?>("--calibration-data") { Description = "Calibration inputs: .npy/.npz, .csv/.tsv, token-id file, image folder or TensorProto folder (see docs/cli.md)." };
        var method = new Option<string?>("--calibration-method") { Description = "minmax | percentile | entropy (static int8)." };
        var optimize = new Option<string?>("--optimize") { Description = "auto (default: fuse attention, LayerNorm and GELU into ONNX Runtime's fused operators, each verified within 1e-4) | all (also residual+LayerNorm and embeddings) | none" };
        var prune = new Option<double?>("--prune") { Description = "Fraction of weights/channels to prune." };
        var pruneMode = new Option<string?>("--prune-mode") { Description = "structured (default: remove neurons, channels, heads) | unstructured (zero weights)" };
        var pruneSteps = new Option<int?>("--prune-steps") { Description = "Reach --prune in this many steps, each followed by recovery training (default 1)." };
        var pruneExclude = new Option<string?>("--prune-exclude") { Description = "Comma-separated node or initializer names to leave unpruned; a trailing * matches a prefix." };
        var distill = new Option<bool>("--distill") { Description = "Distill the teacher into a student." };
        var student = new Option<string?>("--student") { Description = "Student ONNX model for distillation." };
        var studentWidth = new Option<double?>("--student-width") { Description = "Derive the student from the teacher (MLP, Conv net or transformer): hidden widths, Conv channels, d_model and heads times this factor, in (0, 1]." };
        var studentDepth = new Option<double?>("--student-depth") { Description = "Derive the student from the teacher: hidden layers, transformer layers or repeated same-shape Conv blocks times this factor, in (0, 1]." };
        var studentFfnWidth = new Option<double?>("--student-ffn-width") { Description = "Derive the student from the teacher: FFN / hidden neuron widths times this factor, in (0, 1] (default: --student-width)." };
        var trainData = new Option<string?>("--train-data") { Description = "Training inputs for distillation and pruning recovery: .npy, file.npz:name, .csv/.tsv (labels from --label-column), token-id file, image folder (labels from class subfolders), TensorProto folder." };
        var trainLabels = new Option<string?>("--train-labels") { Description = "Class labels for --train-data (.npy, or text with one per line; optional: without them, pure KD on the teacher's outputs)." };
        var epochs = new Option<int?>("--epochs") { Description = "Distillation epochs (default 20; recovery after each pruning step: 10)." };
        var batchSize = new Option<int?>("--batch-size") { Description = "Training batch size (default 32)." };
        var learningRate = new Option<double?>("--learning-rate") { Description = "AdamW learning rate, warm-up then cosine decay (default 0.001)." };
        var temperature = new Option<double?>("--temperature") { Description = "Softmax temperature of the soft targets (default 4)." };
        var alpha = new Option<double?>("--alpha") { Description = "Weight of the soft-target loss against the hard labels, in [0, 1] (default 0.9)." };
        var reinitialize = new Option<bool>("--reinitialize") { Description = "Start the --student from fresh initial weights instead of the file's." };
        var loss = new Option<string?>("--loss") { Description = "response (default) | feature | relation" };
        var featurePairs = new Option<string?>("--feature-pairs") { Description = "teacher_tensor:student_tensor pairs, comma-separated, for --loss feature (one pair for relation)." };
        var synthetic = new Option<int?>("--synthetic") { Description = "Train on N synthetic inputs labelled by the teacher: generated from --train-data's samples, or without --train-data inverted from the teacher's BatchNorm statistics (DeepInversion)." };
        var dropout = new Option<double?>("--dropout") { Description = "Dropout rate while training the student (default 0)." };
        var quantizationAware = new Option<bool>("--quantization-aware") { Description = "Distill through int8 fake quantization (weights and activations, straight-through gradients) for the int8-static step that follows; needs --quantize int8-static." };
        var stageCache = new Option<string?>("--stage-cache") { Description = "Cache each stage's output in this folder, so that changing only later stages' settings re-runs only those." };
        var evalData = new Option<string?>("--eval-data") { Description = "Evaluation inputs, in any format --train-data takes." };
        var evalLabels = new Option<string?>("--eval-labels") { Description = "Evaluation labels (.npy or text, int class ids), unless the data carries them." };
        var metricOutput = new Option<string?>("--metric-output") { Description = "Models with several outputs: the output accuracy and agreement are computed on (default: the first)." };
        var maxDrop = new Option<double?>("--max-accuracy-drop") { Description = "Accuracy points the result may lose against the teacher." };
        var minAgreement = new Option<double?>("--min-agreement") { Description = "Minimum top-1 agreement with the teacher, percent." };
        var maxLatency = new Option<double?>("--max-latency-us") { Description = "Maximum batch-1 latency of the result, microseconds." };
        var force = new Option<bool>("--force") { Description = "Write the quantized model even when it is slower than the float input." };
        var report = new Option<string?>("--report") { Description = "Write the JSON report here (and a Markdown report beside it)." };
        var seed = new Option<int?>("--seed") { Description = "Random seed; same inputs and seed give byte-identical outputs." };
        var threads = new Option<int?>("--threads") { Description = "Intra-op threads for evaluation and calibration (latency is always measured with 1)." };
        var latencyRuns = new Option<int?>("--latency-runs") { Description = $"Batch-1 runs per latency median (default {LatencyMeter.DefaultRuns}; 0 skips timing; --max-latency-us then fails with MB0532)." };

        var cacheKey = new Option<string?>("--cache-key") { Description = "With --remote-cache in ReadWrite mode: upload the result (model and reports) as this cache entry (the build task passes its key; default: the report's cacheKey)." };
        var remote = new RemoteCacheOptions();
        var json = new Option<bool>("--json") { Description = "Print the report as JSON on stdout; progress and diagnostics go to stderr." };
        var reading = new DataReadingOptions();
        var command = new Command("compress", """
            Compress an ONNX model: distill -> prune -> quantize, with evaluation, quality gates and a report
            (JSON, Markdown and HTML). Exit code 0 success, 1 failed quality gate, 2 bad input, 3 internal error.

            Examples:
              modelbuild compress teacher.onnx -o model.onnx --quantize auto --calibration-data calib_x.npy --eval-data test_x.npy --eval-labels test_y.npy --max-accuracy-drop 1 --report report.json
              modelbuild compress teacher.onnx -o model.onnx --quantize int8-dynamic --json
              modelbuild compress teacher.onnx -o model.onnx --prune 0.5 --prune-mode structured --train-data train_x.npy --train-labels train_y.npy
              modelbuild compress --recipe recipe.json -o model.onnx
            """);
        command.Arguments.Add(teacher);
        foreach (var o in new Option[] { output, recipe, quantize, calibration, method, optimize, prune, pruneMode, pruneSteps, pruneExclude, distill, student,
                     studentWidth, studentDepth, studentFfnWidth, trainData, trainLabels, epochs, batchSize, learningRate, temperature, alpha, reinitialize, loss,
                     featurePairs, synthetic, dropout, quantizationAware, evalData, evalLabels, metricOutput, maxDrop, minAgreement, maxLatency, force, report, seed, threads,
                     latencyRuns, stageCache, json })
            command.Options.Add(o);
        reading.AddTo(command);
        remote.AddTo(command);
        command.Options.Add(cacheKey);

        // --json keeps stdout for the JSON document alone, so diagnostics and progress move to stderr.
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var r = new CompressionRecipe();
            if (parse.GetValue(recipe) is { } recipeFile)
            {
                if (!File.Exists(recipeFile))
                    throw new ModelBuildException("MB0513", $"The recipe '{recipeFile}' does not exist.", "Check the --recipe path.", recipeFile);
                try { r = CompressionRecipe.FromJson(File.ReadAllText(recipeFile)); }
                catch (System.Text.Json.JsonException e)
                {
                    throw new ModelBuildException("MB0513", $"The recipe '{recipeFile}' is not valid recipe JSON: {e.Message}", "Fix the JSON (property names as in CompressionRecipe, camelCase).", recipeFile, e);
                }
            }
            T? Pick<T>(Option<T?> o, T? current) => parse.GetResult(o) is not null ? parse.GetValue(o) : current;
            r.Teacher = parse.GetValue(teacher) ?? r.Teacher;
            r.Output = Pick(output, r.Output) ?? "";
            r.Quantize = Pick(quantize, r.Quantize) ?? "none";
            r.CalibrationData = Pick(calibration, r.CalibrationData);
            r.CalibrationMethod = Pick(method, r.CalibrationMethod);
            r.Optimize = Pick(optimize, r.Optimize);
            r.Prune = Pick(prune, r.Prune);
            r.PruneMode = Pick(pruneMode, r.PruneMode);
            r.PruneSteps = Pick(pruneSteps, r.PruneSteps);
            if (parse.GetValue(pruneExclude) is { } exclude)
                r.PruneExclude = exclude.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
            r.Distill = parse.GetValue(distill) || r.Distill;
            r.Student = Pick(student, r.Student);
            r.StudentWidth = Pick(studentWidth, r.StudentWidth);
            r.StudentDepth = Pick(studentDepth, r.StudentDepth);
            r.StudentFfnWidth = Pick(studentFfnWidth, r.StudentFfnWidth);
            r.TrainingData = Pick(trainData, r.TrainingData);
            r.TrainingLabels = Pick(trainLabels, r.TrainingLabels);
            r.Epochs = Pick(epochs, r.Epochs);
            r.BatchSize = Pick(batchSize, r.BatchSize);
            r.LearningRate = Pick(learningRate, r.LearningRate);
            r.Temperature = Pick(temperature, r.Temperature);
            r.Alpha = Pick(alpha, r.Alpha);
            r.Reinitialize = parse.GetValue(reinitialize) || r.Reinitialize;
            r.Loss = Pick(loss, r.Loss);
            r.FeaturePairs = Pick(featurePairs, r.FeaturePairs);
            r.Synthetic = Pick(synthetic, r.Synthetic);
            r.Dropout = Pick(dropout, r.Dropout);
            r.QuantizationAware = parse.GetValue(quantizationAware) || r.QuantizationAware;
            r.EvaluationData = Pick(evalData, r.EvaluationData);
            r.EvaluationLabels = Pick(evalLabels, r.EvaluationLabels);
            r.MetricOutput = Pick(metricOutput, r.MetricOutput);
            r.MaxAccuracyDrop = Pick(maxDrop, r.MaxAccuracyDrop);
            r.MinAgreement = Pick(minAgreement, r.MinAgreement);
            r.MaxLatencyMicroseconds = Pick(maxLatency, r.MaxLatencyMicroseconds);
            r.Force = parse.GetValue(force) || r.Force;
            r.Seed = parse.GetValue(seed) ?? r.Seed;
            r.Threads = Pick(threads, r.Threads);
            reading.ApplyTo(parse, r);
            var runs = parse.GetValue(latencyRuns) ?? LatencyMeter.DefaultRuns;

            var reportPath = parse.GetValue(report);
            CompressionReport RunPipeline(IWorkerLog log)
            {
                RemoteCacheClient? remoteCache = null;
                try { remoteCache = remote.Client(parse, log); }
                catch (RemoteCacheException e) { log.Warning(e.Code, e.Cause + " The remote cache is not used.", e.Remedy); } // never fails a compression
                var stageCacheDirectory = parse.GetValue(stageCache);
                if (remoteCache is not null && stageCacheDirectory is null)
                {
                    // Stage entries need a local home before they are uploaded or after they are downloaded.
                    stageCacheDirectory = Path.Combine(Path.GetTempPath(), "modelbuild-stage-cache");
                }
                var pipeline = new CompressionPipeline(StageCatalog.All()) { LatencyRuns = runs, StageCacheDirectory = stageCacheDirectory, RemoteCache = remoteCache };
                var result = pipeline.Run(r, log, reportPath);
                if (remoteCache is { CanWrite: true }) PublishEntry(remoteCache, parse.GetValue(cacheKey) ?? result.CacheKey ?? CacheKey.Compute(r), r.Output, reportPath);
                return result;
            }
            if (parse.GetValue(json))
            {
                var result = RunPipeline(new WorkerProtocolLog(Console.Error));
                Console.Out.WriteLine(result.ToJson());
            }
            else if (Console.IsOutputRedirected)
            {
                // The MSBuild task and scripts: WorkerProtocol lines only, exactly as the task parses them.
                RunPipeline(new WorkerProtocolLog());
            }
            else
            {
                TerminalProgressLog.Run(log => RunPipeline(log));
                if (reportPath is not null)
                    Console.WriteLine($"report  {Path.GetFullPath(reportPath)} (+ .md, .html)");
            }
            return 0;
        }, parse.GetValue(json) ? Console.Error : Console.Out, Console.Error));
        return command;
    }

    /// <summary>
    /// Uploads the result as a remote entry: the model and the reports under the names a cache entry uses
    /// (model.onnx, report.json/.md/.html), from a copy, so nothing else of the output folder goes along.
    /// </summary>
    private static void PublishEntry(RemoteCacheClient remoteCache, string key, string output, string? reportPath)
    {
        var entry = Directory.CreateTempSubdirectory("modelbuild-entry-").FullName;
        try
        {
            File.Copy(output, Path.Combine(entry, "model.onnx"));
            if (reportPath is not null)
            {
                foreach (var (from, name) in new[] { (reportPath, "report.json"), (Path.ChangeExtension(reportPath, ".md"), "report.md"), (Path.ChangeExtension(reportPath, ".html"), "report.html") })
                    if (File.Exists(from)) File.Copy(from, Path.Combine(entry, name));
            }
            remoteCache.Publish(RemoteCacheLayout.EntryKind, key, entry, "result");
        }
        finally
        {
            Directory.Delete(entry, recursive: true);
        }
    }
}
