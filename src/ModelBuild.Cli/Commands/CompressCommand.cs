using System.CommandLine;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.RemoteCache;
using ModelBuild.Compression.StageContract;
using ModelBuild.Onnx;
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
        var stageCache = new Option<string?>("--stage-cache") { Description = "Cache each stage's output in this folder, so that changing only later stages' settings re-runs only those." };
        var report = new Option<string?>("--report") { Description = "Write the JSON report here (and a Markdown report beside it)." };
        var latencyRuns = new Option<int?>("--latency-runs") { Description = $"Batch-1 runs per latency median (default {LatencyMeter.DefaultRuns}; 0 skips timing; --max-latency-us then fails with MB0532)." };

        var cacheKey = new Option<string?>("--cache-key") { Description = "The key that names the result: the report's cacheKey and, with --remote-cache in ReadWrite mode, the entry the result is uploaded as (the build task passes its key; default: computed from the recipe)." };
        var remote = new RemoteCacheOptions();
        var json = new Option<bool>("--json") { Description = "Print the report as JSON on stdout; progress and diagnostics go to stderr." };
        // Every recipe setting (RecipeSchema), the data-reading ones included.
        var settings = RecipeOptions.All();
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
        command.Options.Add(output);
        command.Options.Add(recipe);
        settings.AddTo(command);
        foreach (var o in new Option[] { report, latencyRuns, stageCache, json })
            command.Options.Add(o);
        remote.AddTo(command);
        command.Options.Add(cacheKey);

        // --json keeps stdout for the JSON document alone, so diagnostics and progress move to stderr.
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var r = parse.GetValue(recipe) is { } recipeFile ? ReadRecipe(recipeFile) : new CompressionRecipe();
            r.Teacher = parse.GetValue(teacher) ?? r.Teacher;
            r.Output = (parse.GetResult(output) is not null ? parse.GetValue(output) : r.Output) ?? "";
            settings.ApplyTo(parse, r);
            if (r.Quantize is null) r.Quantize = "none"; // "quantize": null in a recipe file
            var runs = parse.GetValue(latencyRuns) ?? LatencyMeter.DefaultRuns;

            var reportPath = parse.GetValue(report);
            CompressionReport RunPipeline(IWorkerLog log)
            {
                RemoteCacheClient? remoteCache = null;
                try { remoteCache = remote.Client(parse, log); }
                catch (RemoteCacheException e) { log.Warning(e.Code, e.Cause + " The remote cache is not used.", e.Remedy); } // never fails a compression
                var stageCacheDirectory = parse.GetValue(stageCache);
                var ownStageCache = remoteCache is not null && stageCacheDirectory is null;
                if (ownStageCache)
                {
                    // Stage entries need a local home before they are uploaded or after they are downloaded.
                    stageCacheDirectory = Path.Combine(Path.GetTempPath(), "modelbuild-stage-cache");
                }
                var pipeline = new CompressionPipeline(StageCatalog.All()) { LatencyRuns = runs, StageCacheDirectory = stageCacheDirectory, RemoteCache = remoteCache, ResultKey = parse.GetValue(cacheKey) };
                var result = pipeline.Run(r, log, reportPath);
                if (remoteCache is { CanWrite: true }) PublishEntry(remoteCache, result.CacheKey!, r.Output, reportPath);
                if (ownStageCache)
                {
                    // The folder this command chose is its to keep tidy; a --stage-cache folder (the build's) is its owner's.
                    CacheRetention.TrimStageCacheIfDue(stageCacheDirectory!, CacheRetention.DefaultDays);
                }
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

    /// <summary>The --recipe file (MB0513 when it is missing or not recipe JSON).</summary>
    static CompressionRecipe ReadRecipe(string recipeFile)
    {
        if (!File.Exists(recipeFile))
            throw new ModelBuildException("MB0513", $"The recipe '{recipeFile}' does not exist.", "Check the --recipe path.", recipeFile);
        try { return CompressionRecipe.FromJson(File.ReadAllText(recipeFile)); }
        catch (System.Text.Json.JsonException e)
        {
            throw new ModelBuildException("MB0513", $"The recipe '{recipeFile}' is not valid recipe JSON: {e.Message}", "Fix the JSON (property names as in CompressionRecipe, camelCase).", recipeFile, e);
        }
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
