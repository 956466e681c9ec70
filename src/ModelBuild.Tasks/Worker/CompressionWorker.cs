using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Tasks.Cache;
using ModelBuild.Tasks.Diagnostics;
using ModelBuild.Tasks.Reports;

namespace ModelBuild.Tasks.Worker;

/// <summary>
/// Runs <c>modelbuild compress</c> for one item into a staging folder of the primary cache and commits it as the
/// key's entry; maps the exit code (0 result, 1 failed gate, 2 rejected input, else a crash) to diagnostics. What the
/// worker says (progress, diagnostics, the gate's figures) is forwarded, not rebuilt.
/// </summary>
internal sealed class CompressionWorker(WorkerHost host, RemoteCacheConfiguration remote, TaskLoggingHelper log, CancellationToken cancellation)
{
    /// <summary>The committed entry's folder; null when the worker failed (diagnostics logged) or was cancelled.</summary>
    public string? Compress(ITaskItem model, string name, CompressionRecipe recipe, string key, ModelCache cache, string reportPath)
    {
        var staging = cache.NewStagingDirectory(key);
        try
        {
            var workerRecipe = CompressionRecipe.FromJson(recipe.ToJson());
            workerRecipe.Output = Path.Combine(staging, ModelCache.ModelFile);
            var recipeFile = Path.Combine(staging, "recipe.json");
            File.WriteAllText(recipeFile, workerRecipe.ToJson());
            var workerReport = Path.Combine(staging, ModelCache.ReportFile);
            var logFile = host.LogFile(name, key);

            var worker = host.Process(
                ["compress", "--recipe", recipeFile, "--report", workerReport,
                    // Per-stage cache beside the item cache: changing only Quantize re-uses the distilled/pruned model.
                    "--stage-cache", Path.Combine(cache.PrimaryDirectory, ModelCache.StageFolder),
                    // Always explicit: a ModelBuildRemoteCache variable inherited from the user's environment must not
                    // switch the remote cache back on after it failed in this build.
                    "--remote-cache-mode", remote.Mode, "--cache-key", key],
                logFile,
                () => log.LogMessage(MessageImportance.Normal, $"ModelBuild: {name}: cache miss (key {WorkerHost.Short(key)}); starting worker, log {logFile}"));
            log.LogMessage(MessageImportance.Low, $"ModelBuild: {worker.FileName} {string.Join(" ", worker.Arguments)}");

            var lines = new WorkerLineForwarder(log, model.ItemSpec, name, reportPath, workerReport);
            int? exitCode;
            try
            {
                // The worker names its report in the staging folder, which is discarded: point at the copy in obj/.
                exitCode = worker.Run((line, isError) => lines.Forward(line.Replace(workerReport, reportPath), isError), cancellation);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new TaskDiagnosticException(TaskCodes.WorkerNotStarted,
                    $"CompressModel '{model.ItemSpec}': the worker could not be started with '{worker.FileName}': {e.Message}",
                    "Run the build with the dotnet CLI (dotnet build), or set DOTNET_HOST_PATH to the dotnet executable.", model.ItemSpec);
            }
            if (exitCode is null) return null; // cancelled: the finally below removes the partial folder
            return Outcome(model, name, exitCode.Value, lines.Errors, staging, key, cache, workerRecipe.Output, workerReport, reportPath, logFile);
        }
        finally
        {
            // Anything not committed is discarded: no partial output survives a failure or a cancellation.
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private string? Outcome(ITaskItem model, string name, int exitCode, int workerErrors, string staging, string key, ModelCache cache,
        string output, string workerReport, string reportPath, string logFile)
    {
        // A run that failed with its own verdict (1: a gate, 2: bad input) and wrote its report leaves it in obj/, where
        // its errors point. Not a crash or a kill: its report may be half-written (and WorkerKillTests wants none left).
        if (exitCode is 1 or 2 && File.Exists(workerReport)) BuildReport.CopyFrom(staging, reportPath);
        switch (exitCode)
        {
            case 0 when File.Exists(output) && File.Exists(workerReport):
                return cache.Commit(staging, key);
            case 0:
                throw new TaskDiagnosticException(TaskCodes.WorkerCrashed,
                    $"CompressModel '{model.ItemSpec}': the worker exited 0 but wrote no {(File.Exists(output) ? "report" : "model")}. Its output is in {logFile}.",
                    "Read the log; run the same command by hand (first line of the log) to reproduce.", model.ItemSpec);
            case 1 when File.Exists(workerReport):
                if (workerErrors == 0)
                {
                    throw new TaskDiagnosticException(TaskCodes.QualityGate,
                        $"CompressModel '{model.ItemSpec}': the result misses the quality gate: {BuildReport.GateFigures(reportPath)}. Report: {reportPath}",
                        "Relax MaxAccuracyDrop/MinAgreement, give more calibration or training data, or choose a milder technique.", model.ItemSpec);
                }
                log.LogMessage(MessageImportance.High, $"ModelBuild: {name}: {BuildReport.GateFigures(reportPath)}. Report: {reportPath}");
                return null;
            case 1:
                // Exit 1 without a report is not a gate verdict (System.CommandLine also exits 1 on a usage error).
                throw new TaskDiagnosticException(TaskCodes.WorkerCrashed,
                    $"CompressModel '{model.ItemSpec}': the worker failed (exit code 1) without writing a report. Its full output is in {logFile}.",
                    "Read the log; a usage error there means the worker and the task come from different ModelBuild versions: restore again.", model.ItemSpec);
            case 2:
                if (workerErrors == 0)
                {
                    throw new TaskDiagnosticException(TaskCodes.WorkerRejectedInput,
                        $"CompressModel '{model.ItemSpec}': the worker rejected the input (exit code 2) without a diagnostic. Its output is in {logFile}.",
                        "Read the log for the cause.", model.ItemSpec);
                }
                return null;
            default:
                throw new TaskDiagnosticException(TaskCodes.WorkerCrashed,
                    $"CompressModel '{model.ItemSpec}': the worker crashed (exit code {exitCode}{(exitCode > 128 ? $", signal {exitCode - 128}" : "")}). Its full output is in {logFile}.",
                    "Read the log; run the command on its first line to reproduce. `modelbuild doctor` checks the native libraries.", model.ItemSpec);
        }
    }
}
