using System.Diagnostics;
using System.Globalization;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuild.Onnx;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Tasks.Cache;
using ModelBuild.Tasks.Diagnostics;
using ModelBuild.Tasks.Recipe;
using ModelBuild.Tasks.Reports;
using ModelBuild.Tasks.Worker;

namespace ModelBuild.Tasks;

/// <summary>
/// Brings each <c>&lt;CompressModel&gt;</c> item's output up to date in obj/. Thin, like EF Core's build tasks: it
/// reads no model and loads no engine; it decides up-to-date-ness and runs the worker. Per item: if the stamp's
/// fingerprint (paths, sizes, timestamps, options) matches, nothing to do; else hash the inputs into the cache key;
/// if the stamp already holds that key (a touched but unchanged input) nothing to do; else copy from the local or
/// shared cache (<see cref="ModelCache"/>), else from the remote one (<see cref="RemoteLookup"/>); else run the worker
/// (<see cref="CompressionWorker"/>) under a per-key lock (<see cref="CacheLock"/>). The summary line and the gate's
/// figures are the worker's, forwarded from its report (<see cref="BuildReport"/>).
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
    /// <summary><c>$(ModelBuildCacheRetentionDays)</c>: cache entries not used for this many days are removed (once a day); 0 keeps all.</summary>
    public int CacheRetentionDays { get; set; } = CacheRetention.DefaultDays;

    private RemoteCacheConfiguration remote = null!;
    private CompressionWorker worker = null!;
    private RemoteLookup remoteLookup = null!;

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
            var host = new WorkerHost(WorkerDirectory, DotnetHostPath, ProbingPaths, LogDirectory, remote);
            worker = new CompressionWorker(host, remote, Log, cancellation.Token);
            remoteLookup = new RemoteLookup(host, remote, Log, RemoteCacheTimeoutSeconds, cancellation.Token);
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
            // Only a build that added an entry grew the cache (the stage entries of a failed run are trimmed by the next one).
            if (!cancellation.IsCancellationRequested && (counts.ContainsKey("compressed") || counts.ContainsKey("remote hit")))
                foreach (var (folder, removed) in cache.Trim(CacheRetentionDays, cancellation.Token).Where(t => t.Removed > 0))
                    Log.LogMessage(MessageImportance.Normal, $"ModelBuild: removed {removed} cache entr{(removed == 1 ? "y" : "ies")} not used for {CacheRetentionDays} days from {folder}");
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
        RefuseOutputOutsideFolder(model, name);
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

    /// <summary>
    /// The targets put the output at obj/.../modelbuild/&lt;TargetPath&gt; and bin/&lt;TargetPath&gt;, and register only
    /// those folders for dotnet clean: a rooted TargetPath or one whose ".." lead out of the folder would write (and
    /// leave) files elsewhere. Checked before anything is written.
    /// </summary>
    private static void RefuseOutputOutsideFolder(ITaskItem model, string targetPath)
    {
        var depth = 0;
        var outside = Path.IsPathRooted(targetPath) || targetPath.StartsWith('/') || targetPath.StartsWith('\\')
            || (targetPath.Length >= 2 && targetPath[1] == ':'); // C:x on any OS: the targets may run on Windows
        foreach (var segment in targetPath.Split('/', '\\'))
        {
            if (outside) break;
            if (segment is "" or ".") continue;
            depth += segment == ".." ? -1 : 1;
            outside = depth < 0;
        }
        if (!outside && depth > 0) return;
        var (metadata, value) = model.GetMetadata("OutputName") is { Length: > 0 } outputName ? ("OutputName", outputName)
            : model.GetMetadata("Link") is { Length: > 0 } link ? ("Link", link) : ("TargetPath", targetPath);
        var file = targetPath.Split('/', '\\').LastOrDefault(segment => segment is not ("" or "." or "..")) ?? "model.onnx";
        throw new TaskDiagnosticException(TaskCodes.OutputOutsideFolder,
            $"CompressModel '{model.ItemSpec}': {metadata} '{value}' {(outside ? "leads outside the output folder" : "names the output folder itself, not a file in it")} (bin/ and obj/.../modelbuild/).",
            $"Give {metadata} a relative path that stays inside the output folder (no root, no '..' climbing out of it), e.g. 'models/{file}'.",
            model.ItemSpec);
    }

    /// <summary>An input file could not be read while hashing (kept apart from cache write errors, which are MB0612).</summary>
    private sealed class InputUnreadableException(Exception inner) : Exception(inner.Message, inner);

    private static T ReadingInputs<T>(Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new InputUnreadableException(e); }
    }

    private string BringUpToDate(ITaskItem model, ToolVersions versions, ModelCache cache, string name, CompressionRecipe recipe,
        string output, string stampPath, string reportPath, string inputsPath, bool firstLook = true)
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
            using var keyLock = CacheLock.Acquire(cache, key, name, LockTimeoutSeconds, Log, cancellation.Token);
            if (keyLock is null) return "failed"; // cancelled
            clock.Restart(); // time spent waiting for another build is not this step's cost
            found = cache.Find(key, Damaged); // The build we waited for may have made it.
            if (found is null && remote.Available)
            {
                remoteLookup.Fetch(model, name, key, cache);
                found = cache.Find(key, Damaged) is { } fetched ? (fetched.Directory, "remote") : null;
                if (found is not null) outcome = "remote hit";
                if (cancellation.IsCancellationRequested) return "failed";
            }
            if (found is null)
            {
                var entry = worker.Compress(model, name, recipe, key, cache, reportPath);
                if (entry is null)
                {
                    // The failed run's report replaced the last good one in obj/; without its stamp the next build does
                    // not call the old output "up to date" beside that report, but brings it back from the cache.
                    if (File.Exists(stampPath)) File.Delete(stampPath);
                    return "failed";
                }
                found = (entry, "new");
                outcome = "compressed";
            }
        }

        var (entryDirectory, where) = found.Value;
        try
        {
            AtomicFile.Copy(Path.Combine(entryDirectory, ModelCache.ModelFile), output);
            BuildReport.CopyFrom(entryDirectory, reportPath);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && firstLook && !Directory.Exists(entryDirectory)) { }
        // Another build's trim (CacheRetention) took the entry away while it was copied out: look again, as a miss.
        if (firstLook && !Directory.Exists(entryDirectory))
            return BringUpToDate(model, versions, cache, name, recipe, output, stampPath, reportPath, inputsPath, firstLook: false);
        new StampFile { Key = key, Fingerprint = fingerprint, Inputs = inputs }.Write(stampPath);
        AtomicFile.WriteAllLines(inputsPath, inputs);
        if (outcome is "cache hit" or "remote hit")
        {
            Log.LogMessage(MessageImportance.Normal, string.Format(CultureInfo.InvariantCulture,
                "ModelBuild: {0}: cache hit ({1}, key {2}) copied in {3:0.000} s from {4}", name, where, Short(key), clock.Elapsed.TotalSeconds, entryDirectory));
        }
        BuildReport.LogSummary(Log, name, reportPath, outcome == "compressed" ? $"compressed in {clock.Elapsed.TotalSeconds:0.0} s" : outcome == "remote hit" ? "remote cache hit" : $"cache hit, {where}");
        return outcome;
    }

    private static void Touch(params string[] files)
    {
        var now = DateTime.UtcNow;
        foreach (var file in files) File.SetLastWriteTimeUtc(file, now);
    }

    private void LogDiagnostic(TaskDiagnosticException e, ITaskItem? model) =>
        Log.LogError("ModelBuild", e.Code, null, e.File ?? model?.ItemSpec, 0, 0, 0, 0, $"{e.Cause} Fix: {e.Remedy}");

    private static string Short(string key) => WorkerHost.Short(key);
}
