using System.Diagnostics;
using System.Globalization;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuild.Onnx;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Tasks.Cache;
using ModelBuild.Tasks.Diagnostics;
using ModelBuild.Tasks.Recipe;
using ModelBuild.Tasks.Worker;

namespace ModelBuild.Tasks;

/// <summary>
/// Brings each <c>&lt;CompressModel&gt;</c> item's output up to date in obj/. Thin, like EF Core's build tasks: it
/// reads no model and loads no engine. Per item: if the stamp's fingerprint (paths, sizes, timestamps, options)
/// matches, nothing to do; else hash the inputs into the cache key; if the stamp already holds that key (a touched
/// but unchanged input) nothing to do; else copy from the local or shared cache; else run the worker
/// (<c>dotnet exec modelbuild.dll compress</c>) under a per-key lock and publish its result into the cache.
/// </summary>
public sealed class CompressModels : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource cancellation = new();

    /// <summary>The items, with the metadata ModelBuild.targets adds: TargetPath, IntermediatePath, StampFile, ReportFile, InputsFile.</summary>
    [Required] public ITaskItem[] Models { get; set; } = [];
    [Required] public string ProjectDirectory { get; set; } = "";
    [Required] public string LocalCacheDirectory { get; set; } = "";
    /// <summary><c>$(ModelBuildCacheDir)</c>: optional shared cache.</summary>
    public string? SharedCacheDirectory { get; set; }
    [Required] public string LogDirectory { get; set; } = "";
    /// <summary>Folder holding modelbuild.dll, modelbuild.deps.json and modelbuild.runtimeconfig.json.</summary>
    [Required] public string WorkerDirectory { get; set; } = "";
    /// <summary>The dotnet host (<c>$(DOTNET_HOST_PATH)</c>); "dotnet" from PATH when empty.</summary>
    public string? DotnetHostPath { get; set; }
    /// <summary>NuGet package folders the worker's package dependencies are resolved from.</summary>
    public string[] ProbingPaths { get; set; } = [];
    /// <summary>How long to wait for another build that holds the same key's lock.</summary>
    public int LockTimeoutSeconds { get; set; } = 3600;
    /// <summary><c>$(ModelBuildRemoteCache)</c>: the team's cache on blob storage (https://, azblob://, s3://); empty: none.</summary>
    public string? RemoteCache { get; set; }
    /// <summary><c>$(ModelBuildRemoteCacheMode)</c>: ReadWrite, Read or Off; empty: ReadWrite when <see cref="ContinuousIntegration"/> is set, else Read.</summary>
    public string? RemoteCacheMode { get; set; }
    /// <summary><c>$(ModelBuildRemoteCacheConnectionString)</c> for azblob:// locations (else AZURE_STORAGE_CONNECTION_STRING).</summary>
    public string? RemoteCacheConnectionString { get; set; }
    /// <summary><c>$(ModelBuildRemoteCacheSigningKey)</c>: HMAC key; entries are signed with it and only signed ones are used.</summary>
    public string? RemoteCacheSigningKey { get; set; }
    /// <summary><c>$(CI)</c>: set on CI machines, which write the remote cache by default.</summary>
    public string? ContinuousIntegration { get; set; }
    /// <summary>Upper bound for one remote lookup process, on top of the storage SDK's own time-outs and retries.</summary>
    public int RemoteCacheTimeoutSeconds { get; set; } = 660;

    private RemoteCacheConfiguration remote = null!;

    public void Cancel() => cancellation.Cancel();

    public override bool Execute()
    {
        var clock = Stopwatch.StartNew();
        var counts = new Dictionary<string, int>();
        try
        {
            var versions = ToolVersions.FromDepsFile(Path.Combine(WorkerDirectory, "modelbuild.deps.json"));
            var cache = new ModelCache(LocalCacheDirectory, SharedCacheDirectory);
            // Settings that come from the environment arrive empty (ModelBuild.targets never expands them, so that
            // MSBuild does not log their values): read them here.
            static string? Setting(string? parameter, string variable) =>
                string.IsNullOrEmpty(parameter) ? Environment.GetEnvironmentVariable(variable) : parameter;
            remote = new RemoteCacheConfiguration(Setting(RemoteCache, "ModelBuildRemoteCache"), RemoteCacheMode,
                Setting(RemoteCacheConnectionString, "ModelBuildRemoteCacheConnectionString"), Setting(RemoteCacheSigningKey, "ModelBuildRemoteCacheSigningKey"), ContinuousIntegration,
                (code, text) => Log.LogWarning("ModelBuild", code, null, null, 0, 0, 0, 0, text));
            if (cache.SharedDirectory is { } shared && ModelCache.Unwritable(shared) is { } problem)
            {
                // The cache never fails a build: a shared folder that is read-only, full or not a folder is skipped.
                Log.LogWarning("ModelBuild", TaskCodes.CacheUnusable, null, null, 0, 0, 0, 0,
                    $"The shared cache folder {shared} (ModelBuildCacheDir) cannot be written ({problem}); this build uses only obj/modelbuild/cache. Fix: free space there or make it writable by the build's user, or unset ModelBuildCacheDir.");
                cache = new ModelCache(LocalCacheDirectory, null);
            }
            foreach (var duplicate in Models.GroupBy(m => m.GetMetadata("TargetPath"), StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1))
            {
                LogDiagnostic(new TaskDiagnosticException(TaskCodes.DuplicateOutput,
                    $"CompressModel items {string.Join(", ", duplicate.Select(m => $"'{m.ItemSpec}'"))} would all write '{duplicate.Key}'.",
                    "Give each item its own OutputName.", duplicate.First().ItemSpec), null);
            }
            if (Log.HasLoggedErrors) return false;

            foreach (var model in Models)
            {
                if (cancellation.IsCancellationRequested) break;
                try
                {
                    var outcome = BringUpToDate(model, versions, cache);
                    counts[outcome] = counts.GetValueOrDefault(outcome) + 1;
                }
                catch (TaskDiagnosticException e)
                {
                    LogDiagnostic(e, model);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            Log.LogError(null, TaskCodes.WorkerNotStarted, null, null, 0, 0, 0, 0,
                $"ModelBuild could not read its worker or write its cache: {e.Message} Fix: restore the project again (dotnet restore) and check that obj/ and ModelBuildCacheDir are writable.");
        }
        // The task's own time, on its own line, so a cache hit's cost can be read from any log (docs/msbuild.md).
        Log.LogMessage(MessageImportance.Normal, string.Format(CultureInfo.InvariantCulture,
            "ModelBuild: CompressModels took {0:0.000} s for {1} model(s): {2}", clock.Elapsed.TotalSeconds, Models.Length,
            counts.Count == 0 ? "none done" : string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Value} {c.Key}"))));
        if (cancellation.IsCancellationRequested)
        {
            Log.LogMessage(MessageImportance.High, "ModelBuild: cancelled; the worker was stopped and no partial output was written.");
            return false;
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>Returns what was done: "up to date", "unchanged", "cache hit", "compressed" or "failed".</summary>
    private string BringUpToDate(ITaskItem model, ToolVersions versions, ModelCache cache)
    {
        var name = model.GetMetadata("TargetPath");
        var output = Path.GetFullPath(model.GetMetadata("IntermediatePath"));
        var stampPath = Path.GetFullPath(model.GetMetadata("StampFile"));
        var reportPath = Path.GetFullPath(model.GetMetadata("ReportFile"));
        var inputsPath = Path.GetFullPath(model.GetMetadata("InputsFile"));

        var recipe = RecipeFromItem.Build(model, ProjectDirectory);
        try
        {
            return BringUpToDate(model, versions, cache, name, recipe, output, stampPath, reportPath, inputsPath);
        }
        catch (InputUnreadableException e)
        {
            throw new TaskDiagnosticException(TaskCodes.InputUnreadable,
                $"An input of '{model.ItemSpec}' cannot be read while computing its cache key: {e.InnerException!.Message}",
                "Check that the model and data files (and every file in a data folder) are readable by the build's user and not locked by another program.", model.ItemSpec);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TaskDiagnosticException(TaskCodes.CacheUnusable,
                $"ModelBuild cannot write the cache ({cache.PrimaryDirectory}) or the output of '{model.ItemSpec}': {e.Message}",
                "Free space on that disk and check that obj/ (and ModelBuildCacheDir, when set) are writable by the build's user.", model.ItemSpec);
        }
    }

    /// <summary>An input file could not be read while hashing (kept apart from cache write errors, which are MB0612).</summary>
    private sealed class InputUnreadableException(Exception inner) : Exception(inner.Message, inner);

    private static T ReadingInputs<T>(Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new InputUnreadableException(e); }
    }

    private string BringUpToDate(ITaskItem model, ToolVersions versions, ModelCache cache, string name, CompressionRecipe recipe,
        string output, string stampPath, string reportPath, string inputsPath)
    {
        var fingerprint = ReadingInputs(() => ContentKey.Fingerprint(recipe, versions));
        var stamp = StampFile.TryRead(stampPath);
        var outputExists = File.Exists(output);
        if (stamp is not null && outputExists && stamp.Fingerprint == fingerprint)
        {
            // The target ran for another reason (a project file changed): nothing that decides this output did.
            Touch(output, stampPath);
            Log.LogMessage(MessageImportance.Low, $"ModelBuild: {name}: up to date (key {Short(stamp.Key)}).");
            return "up to date";
        }

        var key = ReadingInputs(() => ContentKey.OfResult(recipe, versions));
        // Data folders are listed file by file: MSBuild's up-to-date check sees an edited image, not the folder's time.
        var inputs = ReadingInputs(() => ContentKey.InputFiles(recipe).SelectMany(DataInputHash.Files).Concat(model.GetMetadata("Recipe") is { Length: > 0 } ? [Path.GetFullPath(Path.Combine(ProjectDirectory, model.GetMetadata("Recipe")))] : []).ToList());
        if (stamp is not null && outputExists && stamp.Key == key)
        {
            // Touched, not changed: the bytes hash to the same key. Refresh the stamp; no worker, no copy.
            new StampFile { Key = key, Fingerprint = fingerprint, Inputs = inputs }.Write(stampPath);
            AtomicFile.WriteAllLines(inputsPath, inputs);
            Touch(output, stampPath);
            Log.LogMessage(MessageImportance.Normal, $"ModelBuild: {name}: inputs touched but unchanged (key {Short(key)}); nothing to do.");
            return "unchanged";
        }

        void Damaged(string entry, string problem) => Log.LogWarning("ModelBuild", TaskCodes.LocalEntryCorrupt, null, model.ItemSpec, 0, 0, 0, 0,
            $"{name}: the cache entry {entry} was altered on disk ({problem}); removed and rebuilt, not used. Fix: nothing for this build; check what writes into the cache folder.");
        var found = cache.Find(key, Damaged);
        var outcome = "cache hit";
        var clock = Stopwatch.StartNew();
        if (found is null)
        {
            using var keyLock = AcquireLock(cache, key, name);
            if (keyLock is null) return "failed"; // cancelled
            clock.Restart(); // time spent waiting for another build is not this step's cost
            found = cache.Find(key, Damaged); // The build we waited for may have made it.
            if (found is null && remote.Available)
            {
                FetchRemote(model, name, key, cache);
                found = cache.Find(key, Damaged) is { } fetched ? (fetched.Directory, "remote") : null;
                if (found is not null) outcome = "remote hit";
                if (cancellation.IsCancellationRequested) return "failed";
            }
            if (found is null)
            {
                var entry = Compress(model, name, recipe, key, cache, reportPath);
                if (entry is null) return "failed";
                found = (entry, "new");
                outcome = "compressed";
            }
        }

        var (entryDirectory, where) = found.Value;
        AtomicFile.Copy(Path.Combine(entryDirectory, ModelCache.ModelFile), output);
        CopyReports(entryDirectory, reportPath);
        new StampFile { Key = key, Fingerprint = fingerprint, Inputs = inputs }.Write(stampPath);
        AtomicFile.WriteAllLines(inputsPath, inputs);
        if (outcome is "cache hit" or "remote hit")
        {
            Log.LogMessage(MessageImportance.Normal, string.Format(CultureInfo.InvariantCulture,
                "ModelBuild: {0}: cache hit ({1}, key {2}) copied in {3:0.000} s from {4}", name, where, Short(key), clock.Elapsed.TotalSeconds, entryDirectory));
        }
        LogSummary(name, reportPath, outcome == "compressed" ? $"compressed in {clock.Elapsed.TotalSeconds:0.0} s" : outcome == "remote hit" ? "remote cache hit" : $"cache hit, {where}");
        return outcome;
    }

    /// <summary>Runs the worker into a staging folder of the primary cache and commits it. Null when it failed or was cancelled.</summary>
    private string? Compress(ITaskItem model, string name, CompressionRecipe recipe, string key, ModelCache cache, string reportPath)
    {
        var staging = cache.NewStagingDirectory(key);
        try
        {
            var workerRecipe = CompressionRecipe.FromJson(recipe.ToJson());
            workerRecipe.Output = Path.Combine(staging, ModelCache.ModelFile);
            var recipeFile = Path.Combine(staging, "recipe.json");
            File.WriteAllText(recipeFile, workerRecipe.ToJson());
            var workerReport = Path.Combine(staging, ModelCache.ReportFile);
            var logFile = Path.Combine(Path.GetFullPath(LogDirectory), $"{SafeFileName(name)}.{Short(key)}.log");

            var arguments = WorkerHostArguments();
            // Per-stage cache beside the item cache: changing only Quantize re-uses the distilled/pruned model.
            arguments.AddRange([Path.Combine(WorkerDirectory, "modelbuild.dll"), "compress", "--recipe", recipeFile, "--report", workerReport,
                "--stage-cache", Path.Combine(cache.PrimaryDirectory, ModelCache.StageFolder),
                // Always explicit: a ModelBuildRemoteCache variable inherited from the user's environment must not
                // switch the remote cache back on after it failed in this build.
                "--remote-cache-mode", remote.Mode, "--cache-key", key]);
            var worker = new WorkerProcess
            {
                FileName = string.IsNullOrWhiteSpace(DotnetHostPath) ? "dotnet" : DotnetHostPath!,
                Arguments = arguments,
                LogFile = logFile,
                Environment = WorkerEnvironment(),
                Redact = remote.Redact,
                Started = () => Log.LogMessage(MessageImportance.Normal, $"ModelBuild: {name}: cache miss (key {Short(key)}); starting worker, log {logFile}"),
            };
            Log.LogMessage(MessageImportance.Low, $"ModelBuild: {worker.FileName} {string.Join(" ", arguments)}");

            var workerErrors = 0;
            int? exitCode;
            try
            {
                // The worker names its report in the staging folder, which is discarded: point at the copy in obj/.
                exitCode = worker.Run((line, isError) => workerErrors += OnWorkerLine(model, name, line.Replace(workerReport, reportPath), isError, reportPath), cancellation.Token);
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new TaskDiagnosticException(TaskCodes.WorkerNotStarted,
                    $"CompressModel '{model.ItemSpec}': the worker could not be started with '{worker.FileName}': {e.Message}",
                    "Run the build with the dotnet CLI (dotnet build), or set DOTNET_HOST_PATH to the dotnet executable.", model.ItemSpec);
            }
            if (exitCode is null) return null; // cancelled: the finally below removes the partial folder

            switch (exitCode)
            {
                case 0 when File.Exists(workerRecipe.Output) && File.Exists(workerReport):
                    return cache.Commit(staging, key);
                case 0:
                    throw new TaskDiagnosticException(TaskCodes.WorkerCrashed,
                        $"CompressModel '{model.ItemSpec}': the worker exited 0 but wrote no {(File.Exists(workerRecipe.Output) ? "report" : "model")}. Its output is in {logFile}.",
                        "Read the log; run the same command by hand (first line of the log) to reproduce.", model.ItemSpec);
                case 1 when File.Exists(workerReport):
                    CopyReports(staging, reportPath);
                    if (workerErrors == 0)
                    {
                        throw new TaskDiagnosticException(TaskCodes.QualityGate,
                            $"CompressModel '{model.ItemSpec}': the result misses the quality gate: {GateFigures(recipe, reportPath)}. Report: {reportPath}",
                            "Relax MaxAccuracyDrop/MinAgreement, give more calibration or training data, or choose a milder technique.", model.ItemSpec);
                    }
                    Log.LogMessage(MessageImportance.High, $"ModelBuild: {name}: {GateFigures(recipe, reportPath)}. Report: {reportPath}");
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
        finally
        {
            // Anything not committed is discarded: no partial output survives a failure or a cancellation.
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary><c>dotnet exec</c> with the worker's deps.json, runtimeconfig.json and the NuGet folders to probe.</summary>
    private List<string> WorkerHostArguments()
    {
        var arguments = new List<string>
        {
            "exec",
            "--depsfile", Path.Combine(WorkerDirectory, "modelbuild.deps.json"),
            "--runtimeconfig", Path.Combine(WorkerDirectory, "modelbuild.runtimeconfig.json"),
        };
        foreach (var probe in ProbingPaths.Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => p.TrimEnd('/', '\\')).Distinct())
        {
            arguments.Add("--additionalprobingpath");
            arguments.Add(probe);
        }
        return arguments;
    }

    private Dictionary<string, string?> WorkerEnvironment()
    {
        // The worker is a plain .NET app: MSBuild's own variables must not leak into it.
        var environment = new Dictionary<string, string?> { ["MSBUILD_EXE_PATH"] = null, ["MSBuildExtensionsPath"] = null, ["MSBuildSDKsPath"] = null };
        remote.AddTo(environment);
        return environment;
    }

    /// <summary>
    /// Looks the key up in the remote cache with <c>modelbuild cache fetch</c>, which downloads a verified entry into
    /// the primary cache folder (see <see cref="RemoteCacheConfiguration"/> for why in a child process). Never fails
    /// the build: whatever goes wrong is a warning, and a store failure turns the remote cache off for this build.
    /// </summary>
    private void FetchRemote(ITaskItem model, string name, string key, ModelCache cache)
    {
        var arguments = WorkerHostArguments();
        arguments.AddRange([Path.Combine(WorkerDirectory, "modelbuild.dll"), "cache", "fetch", "--key", key, "--into", cache.PrimaryDirectory]);
        var lookup = new WorkerProcess
        {
            FileName = string.IsNullOrWhiteSpace(DotnetHostPath) ? "dotnet" : DotnetHostPath!,
            Arguments = arguments,
            LogFile = Path.Combine(Path.GetFullPath(LogDirectory), $"{SafeFileName(name)}.{Short(key)}.remote.log"),
            Environment = WorkerEnvironment(),
            Redact = remote.Redact,
        };
        Log.LogMessage(MessageImportance.Low, $"ModelBuild: {name}: remote lookup in {remote.Display}: {lookup.FileName} {string.Join(" ", arguments)}");
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellation.Token);
        bounded.CancelAfter(TimeSpan.FromSeconds(RemoteCacheTimeoutSeconds));
        try
        {
            var exit = lookup.Run((line, _) =>
            {
                if (!WorkerProtocol.TryParse(line, out var kind, out var code, out var text))
                {
                    Log.LogMessage(MessageImportance.Low, $"  {name}: {line}");
                    return;
                }
                var parts = text.Split([" | "], 2, StringSplitOptions.None);
                var message = parts.Length == 2 ? $"{parts[0]} Fix: {parts[1]}" : text;
                if (kind is "warning" or "error")
                {
                    // The cache never fails a build: even the lookup's errors (a bad location) are warnings.
                    Log.LogWarning("ModelBuild", code, null, model.ItemSpec, 0, 0, 0, 0, $"{name}: {message}");
                    remote.Observe(code);
                }
                else
                {
                    Log.LogMessage(MessageImportance.Normal, $"ModelBuild: {name}: {text}");
                }
            }, bounded.Token);
            if (exit is null && !cancellation.IsCancellationRequested)
            {
                Log.LogWarning("ModelBuild", TaskCodes.RemoteUnreachable, null, model.ItemSpec, 0, 0, 0, 0,
                    $"{name}: the remote lookup in {remote.Display} took longer than {RemoteCacheTimeoutSeconds} s and was stopped; the remote cache is not used for the rest of this build. Fix: check the network and the store.");
                remote.Disable();
            }
            else if (exit is not null and not 0 && exit != 2)
            {
                Log.LogWarning("ModelBuild", TaskCodes.RemoteStoreFailed, null, model.ItemSpec, 0, 0, 0, 0,
                    $"{name}: the remote lookup failed (exit code {exit}); see {lookup.LogFile}. The remote cache is not used for the rest of this build. Fix: read the log.");
                remote.Disable();
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Log.LogWarning("ModelBuild", TaskCodes.RemoteStoreFailed, null, model.ItemSpec, 0, 0, 0, 0,
                $"{name}: the remote lookup could not start ({e.Message}); the remote cache is not used. Fix: run the build with the dotnet CLI.");
            remote.Disable();
        }
    }

    /// <summary>Maps one worker line to MSBuild. Returns 1 for an error line, else 0.</summary>
    private int OnWorkerLine(ITaskItem model, string name, string line, bool isError, string reportPath)
    {
        if (!WorkerProtocol.TryParse(line, out var kind, out var code, out var text))
        {
            Log.LogMessage(MessageImportance.Low, $"  {name}: {line}");
            return 0;
        }
        var parts = text.Split([" | "], 2, StringSplitOptions.None);
        var message = parts.Length == 2 ? $"{parts[0]} Fix: {parts[1]}" : text;
        switch (kind)
        {
            case "progress":
                Log.LogMessage(MessageImportance.Normal, $"  {name}: {text}");
                return 0;
            case "stage":
                Log.LogMessage(MessageImportance.Normal, $"  {name}: stage {text}");
                return 0;
            case "warning":
                Log.LogWarning("ModelBuild", code, null, model.ItemSpec, 0, 0, 0, 0, $"{name}: {message}");
                return 0;
            case "error":
                var gate = code is not null && code.StartsWith("MB05", StringComparison.Ordinal) && !message.Contains(reportPath) ? $" Report: {reportPath}" : "";
                Log.LogError("ModelBuild", code, null, model.ItemSpec, 0, 0, 0, 0, $"{name}: {message}{gate}");
                return 1;
            case "summary":
                Log.LogMessage(MessageImportance.Low, $"  {name}: {text}");
                return 0;
            default:
                Log.LogMessage(isError ? MessageImportance.Normal : MessageImportance.Low, $"  {name}: {line}");
                return 0;
        }
    }

    private FileStream? AcquireLock(ModelCache cache, string key, string name)
    {
        var deadline = Stopwatch.StartNew();
        var announced = false;
        while (true)
        {
            var taken = ModelCache.TryLock(cache.PrimaryDirectory, key);
            if (taken is not null) return taken;
            if (!announced)
            {
                Log.LogMessage(MessageImportance.High, $"ModelBuild: {name}: another build is compressing the same inputs (key {Short(key)}); waiting for it.");
                announced = true;
            }
            if (deadline.Elapsed.TotalSeconds > LockTimeoutSeconds)
            {
                throw new TaskDiagnosticException(TaskCodes.CacheLockTimeout,
                    $"Waited {LockTimeoutSeconds} s for the lock {Path.Combine(cache.PrimaryDirectory, key + ".lock")} held by another build.",
                    "Check for a hung build (modelbuild worker process) and stop it, or raise ModelBuildCacheLockTimeout.", name);
            }
            if (cancellation.Token.WaitHandle.WaitOne(200)) return null;
        }
    }

    private void LogSummary(string name, string reportPath, string how)
    {
        if (!File.Exists(reportPath))
        {
            Log.LogMessage(MessageImportance.High, $"ModelBuild: {name}: ({how}; no report)");
            return;
        }
        var report = CompressionReport.FromJson(File.ReadAllText(reportPath));
        var teacher = report.Teacher;
        var result = report.Result;
        var ratio = result.Bytes > 0 ? string.Format(CultureInfo.InvariantCulture, " ({0:0.00}x smaller)", (double)teacher.Bytes / result.Bytes) : "";
        Log.LogMessage(MessageImportance.High, string.Format(CultureInfo.InvariantCulture,
            "ModelBuild: {0}: {1:N0} B -> {2:N0} B{3}, latency {4} -> {5}, accuracy {6} -> {7}{8} ({9})",
            name, teacher.Bytes, result.Bytes, ratio, Micros(teacher.LatencyMicroseconds), Micros(result.LatencyMicroseconds),
            Percent(teacher.Accuracy), Percent(result.Accuracy), result.Agreement is { } a ? $", agreement {Percent(a)}" : "", how));
    }

    private static string GateFigures(CompressionRecipe recipe, string reportPath)
    {
        if (!File.Exists(reportPath)) return "no report was written";
        var report = CompressionReport.FromJson(File.ReadAllText(reportPath));
        var parts = new List<string>
        {
            $"accuracy teacher {Percent(report.Teacher.Accuracy)} -> result {Percent(report.Result.Accuracy)}",
        };
        if (report.Teacher.Accuracy is { } t && report.Result.Accuracy is { } r)
        {
            parts[0] += string.Format(CultureInfo.InvariantCulture, " (drop {0:0.00} points", t - r)
                + (recipe.MaxAccuracyDrop is { } max ? string.Format(CultureInfo.InvariantCulture, ", allowed {0:0.00})", max) : ")");
        }
        if (report.Result.Agreement is { } agreement)
        {
            parts.Add($"agreement {Percent(agreement)}" + (recipe.MinAgreement is { } min ? string.Format(CultureInfo.InvariantCulture, " (required {0:0.00}%)", min) : ""));
        }
        parts.Add($"latency {Micros(report.Teacher.LatencyMicroseconds)} -> {Micros(report.Result.LatencyMicroseconds)}");
        return string.Join(", ", parts);
    }

    private static void CopyReports(string entryDirectory, string reportPath)
    {
        var json = Path.Combine(entryDirectory, ModelCache.ReportFile);
        if (File.Exists(json)) AtomicFile.Copy(json, reportPath);
        var markdown = Path.Combine(entryDirectory, ModelCache.MarkdownReportFile);
        if (File.Exists(markdown)) AtomicFile.Copy(markdown, Path.ChangeExtension(reportPath, ".md"));
        var html = Path.Combine(entryDirectory, ModelCache.HtmlReportFile);
        if (File.Exists(html)) AtomicFile.Copy(html, Path.ChangeExtension(reportPath, ".html"));
    }

    private static void Touch(params string[] files)
    {
        var now = DateTime.UtcNow;
        foreach (var file in files) File.SetLastWriteTimeUtc(file, now);
    }

    private void LogDiagnostic(TaskDiagnosticException e, ITaskItem? model) =>
        Log.LogError("ModelBuild", e.Code, null, e.File ?? model?.ItemSpec, 0, 0, 0, 0, $"{e.Cause} Fix: {e.Remedy}");

    private static string Short(string key) => key[..12];
    private static string SafeFileName(string name) => string.Concat(name.Select(c => Path.GetInvalidFileNameChars().Contains(c) || c is '/' or '\\' ? '_' : c));
    private static string Micros(double? value) => value is { } v ? v.ToString("0.0", CultureInfo.InvariantCulture) + " us" : "n/a";
    private static string Percent(double? value) => value is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";
}
