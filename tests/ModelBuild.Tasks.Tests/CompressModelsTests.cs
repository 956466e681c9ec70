using System.Diagnostics;
using ModelBuild.Onnx;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Tasks.Cache;
using ModelBuild.Tasks.Diagnostics;

namespace ModelBuild.Tasks.Tests;

public sealed class CompressModelsTests : IDisposable
{
    private readonly FakeWorkerProject project = new();

    public void Dispose() => project.Dispose();

    /// <summary>
    /// A build stopped hard mid-run leaves its staging folder in the cache; the next worker run for that key (under the
    /// key's lock) removes it once its process is gone. A live process's folder and another key's are kept (a container
    /// sharing the host name and the cache may be writing that one).
    /// </summary>
    [Fact]
    public void A_dead_builds_staging_folder_of_the_key_is_removed_when_the_next_worker_runs()
    {
        Directory.CreateDirectory(project.LocalCache);
        var recipe = Recipe.RecipeFromItem.Build(project.Item(), project.Project);
        var key = ContentKey.OfResult(recipe, ToolVersions.FromDepsFile(Path.Combine(project.WorkerDirectory, "modelbuild.deps.json")));
        // 2^22 + 1 is above Linux's pid_max default and any pid this machine has: no such process.
        const int gone = (1 << 22) + 1;
        string Staging(string name, int pid) => Path.Combine(project.LocalCache, $"{name}.{Environment.MachineName}.{pid}.{Guid.NewGuid():N}.tmp");
        var (dead, live, otherKey) = (Staging(key, gone), Staging(key, Environment.ProcessId), Staging("0123abcd", gone));
        foreach (var folder in new[] { dead, live, otherKey }) Directory.CreateDirectory(folder);
        var engine = new RecordingBuildEngine();
        Assert.True(project.Task(engine, project.Worker(FakeWorkerProject.Succeeds)).Execute(), engine.AllText);
        Assert.Equal(1, project.WorkerRuns);
        Assert.False(Directory.Exists(dead), "the dead build's staging folder was left");
        Assert.True(Directory.Exists(live), "a running process's staging folder was removed");
        Assert.True(Directory.Exists(otherKey), "another key's staging folder was removed without its lock");
    }

    [Fact]
    public void Miss_runs_the_worker_once_maps_its_lines_and_installs_the_result()
    {
        var engine = new RecordingBuildEngine();
        Assert.True(project.Task(engine, project.Worker(FakeWorkerProject.Succeeds)).Execute(), engine.AllText);

        Assert.Equal(1, project.WorkerRuns);
        Assert.Equal([1, 2, 3, 4], File.ReadAllBytes(project.Output));
        Assert.Contains(engine.Messages, m => m.Message!.Contains("quantize: calibrating 3/8 tensors") && m.Importance == Microsoft.Build.Framework.MessageImportance.Normal);
        Assert.Contains(engine.Messages, m => m.Message!.Contains("stage quantize 0.12s"));
        var warning = Assert.Single(engine.Warnings);
        Assert.Equal("MB0203", warning.Code);
        Assert.Contains("one layer kept in float", warning.Message);
        // The one high-importance summary line: bytes, latency, accuracy.
        Assert.Contains(engine.Messages, m => m.Importance == Microsoft.Build.Framework.MessageImportance.High
            && m.Message!.Contains("281,255 B -> 74,112 B") && m.Message.Contains("6.2 us -> 5.1 us") && m.Message.Contains("98.15% -> 98.15%"));
        // The worker was started with dotnet exec of the worker, its deps.json and the NuGet probing path.
        var log = Directory.GetFiles(Path.Combine(project.Project, "obj", "modelbuild", "logs")).Single();
        var commandLine = File.ReadLines(log).First();
        Assert.Contains(" exec --depsfile ", commandLine);
        Assert.Contains("--additionalprobingpath /nuget/packages ", commandLine);
        Assert.Contains("modelbuild.dll compress --recipe ", commandLine);
        // No staging folder is left in the cache; the entry holds the model and its report.
        var entry = Assert.Single(Directory.GetDirectories(project.LocalCache));
        Assert.True(File.Exists(Path.Combine(entry, ModelCache.ModelFile)));
        Assert.True(File.Exists(Path.Combine(entry, ModelCache.ReportFile)));
    }

    [Fact]
    public void Second_run_is_up_to_date_and_a_touch_costs_a_hash_but_no_worker()
    {
        var worker = project.Worker(FakeWorkerProject.Succeeds);
        Assert.True(project.Task(new RecordingBuildEngine(), worker).Execute());
        var engine = new RecordingBuildEngine();
        Assert.True(project.Task(engine, worker).Execute());
        Assert.Contains("1 up to date", engine.AllText);

        File.SetLastWriteTimeUtc(Path.Combine(project.Project, "calib.npy"), DateTime.UtcNow.AddSeconds(5));
        engine = new RecordingBuildEngine();
        Assert.True(project.Task(engine, worker).Execute());
        Assert.Contains("1 unchanged", engine.AllText);
        Assert.Equal(1, project.WorkerRuns);

        File.WriteAllBytes(Path.Combine(project.Project, "calib.npy"), [5, 6, 8]);
        Assert.True(project.Task(new RecordingBuildEngine(), worker).Execute());
        Assert.Equal(2, project.WorkerRuns);
    }

    [Fact]
    public void Deleted_output_is_restored_from_the_local_cache_without_the_worker()
    {
        var worker = project.Worker(FakeWorkerProject.Succeeds);
        Assert.True(project.Task(new RecordingBuildEngine(), worker).Execute());
        File.Delete(project.Output);
        var engine = new RecordingBuildEngine();
        Assert.True(project.Task(engine, worker).Execute());
        Assert.Contains("cache hit (local", engine.AllText);
        Assert.Equal(1, project.WorkerRuns);
        Assert.True(File.Exists(project.Output));
    }

    /// <summary>
    /// A build that adds an entry trims the caches it owns: an entry nobody used for longer than
    /// ModelBuildCacheRetentionDays goes (from the result cache, the stage cache and the teacher answers), while an old
    /// entry that this build hit stays, since a hit marks it used. 0 days keeps everything.
    /// </summary>
    [Fact]
    public void A_build_removes_cache_entries_unused_past_the_retention_and_keeps_the_one_it_hit()
    {
        var worker = project.Worker(FakeWorkerProject.Succeeds);
        Assert.True(project.Task(new RecordingBuildEngine(), worker).Execute());
        var hitEntry = Directory.GetDirectories(project.LocalCache).Single(d => Path.GetFileName(d).Length == 64);
        var stages = Path.Combine(project.LocalCache, ModelCache.StageFolder);
        var answers = Path.Combine(stages, CacheRetention.TeacherAnswersFolder);
        Directory.CreateDirectory(answers);
        var longAgo = DateTime.UtcNow.AddDays(-45);
        string Stale(string folder, char c)
        {
            var entry = Path.Combine(folder, new string(c, 64));
            Directory.CreateDirectory(entry);
            File.WriteAllBytes(Path.Combine(entry, "model.onnx"), [1]);
            Directory.SetLastWriteTimeUtc(entry, longAgo);
            return entry;
        }
        var (staleResult, staleStage) = (Stale(project.LocalCache, 'a'), Stale(stages, 'b'));
        var staleAnswer = Path.Combine(answers, new string('c', 64) + ".json");
        File.WriteAllText(staleAnswer, "{}");
        File.SetLastWriteTimeUtc(staleAnswer, longAgo);
        Directory.SetLastWriteTimeUtc(hitEntry, longAgo);
        // The first build looked the folder through a moment ago; a day later it is due again.
        File.SetLastWriteTimeUtc(Path.Combine(project.LocalCache, CacheRetention.MarkerFile), DateTime.UtcNow.AddDays(-2));
        foreach (var folder in new[] { stages, answers })
            if (File.Exists(Path.Combine(folder, CacheRetention.MarkerFile))) File.Delete(Path.Combine(folder, CacheRetention.MarkerFile));
        File.Delete(project.Output);
        // A build that only hits adds nothing, so it trims nothing.
        var hitsOnly = new RecordingBuildEngine();
        Assert.True(project.Task(hitsOnly, worker).Execute());
        Assert.Contains("cache hit (local", hitsOnly.AllText);
        Assert.True(Directory.Exists(staleResult) && Directory.Exists(staleStage) && File.Exists(staleAnswer), "a build with only hits trimmed");
        File.Delete(project.Output);
        // Each build below takes the first item from the cache and compresses a new one (another Quantize).
        Microsoft.Build.Utilities.TaskItem New(string quantize)
        {
            var item = project.Item(quantize + ".onnx");
            item.SetMetadata("Quantize", quantize);
            return item;
        }

        var keepAll = project.Task(new RecordingBuildEngine(), worker, null, project.Item(), New("int8-dynamic"));
        keepAll.CacheRetentionDays = 0;
        Assert.True(keepAll.Execute());
        Assert.Equal(2, project.WorkerRuns);
        Assert.True(Directory.Exists(staleResult) && Directory.Exists(staleStage) && File.Exists(staleAnswer), "0 days removed an entry");
        File.Delete(project.Output);
        Directory.SetLastWriteTimeUtc(hitEntry, longAgo);

        var engine = new RecordingBuildEngine();
        Assert.True(project.Task(engine, worker, null, project.Item(), New("int8-weights")).Execute(), engine.AllText);
        Assert.Contains("cache hit (local", engine.AllText);
        Assert.Equal(3, project.WorkerRuns);
        Assert.True(Directory.Exists(hitEntry), "the entry the build hit was removed");
        Assert.False(Directory.Exists(staleResult), "the unused result entry was kept");
        Assert.False(Directory.Exists(staleStage), "the unused stage entry was kept");
        Assert.False(File.Exists(staleAnswer), "the unused teacher answer was kept");
        var removals = engine.Messages.Select(m => m.Message ?? "").Where(m => m.Contains("cache entr")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { project.LocalCache, stages, answers }.Select(f => $"ModelBuild: removed 1 cache entry not used for {CacheRetention.DefaultDays} days from {f}").Order(StringComparer.Ordinal), removals);
    }

    [Fact]
    public void Crash_is_MB0605_with_the_log_path_and_leaves_no_output()
    {
        var engine = new RecordingBuildEngine();
        Assert.False(project.Task(engine, project.Worker("""echo "##modelbuild[progress] loading"; echo half > "$out"; kill -SEGV $$""")).Execute());
        var error = Assert.Single(engine.Errors);
        Assert.Equal(TaskCodes.WorkerCrashed, error.Code);
        Assert.Contains("signal 11", error.Message);
        var log = Directory.GetFiles(Path.Combine(project.Project, "obj", "modelbuild", "logs")).Single();
        Assert.Contains(log, error.Message);
        Assert.Contains("##modelbuild[progress] loading", File.ReadAllText(log));
        Assert.False(File.Exists(project.Output));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(project.LocalCache), p => !p.EndsWith(".lock"));
    }

    [Fact]
    public void Failed_gate_is_MB0607_with_teacher_and_result_figures_and_the_report_path()
    {
        var engine = new RecordingBuildEngine();
        var item = project.Item();
        File.WriteAllBytes(Path.Combine(project.Project, "test_x.npy"), [1]);
        File.WriteAllBytes(Path.Combine(project.Project, "test_y.npy"), [2]);
        item.SetMetadata("EvaluationData", "test_x.npy");
        item.SetMetadata("EvaluationLabels", "test_y.npy");
        item.SetMetadata("MaxAccuracyDrop", "0.5");
        var worker = project.Worker("""
            echo '{"teacher":{"bytes":281255,"accuracy":98.15},"result":{"bytes":74112,"accuracy":90.74,"agreement":91.2},"gate":"accuracy teacher 98.15% -> result 90.74% (drop 7.41 points, allowed 0.50), agreement 91.20%, latency n/a -> n/a"}' > "$report"
            exit 1
            """);
        Assert.False(project.Task(engine, worker, null, item).Execute());
        var error = Assert.Single(engine.Errors);
        Assert.Equal(TaskCodes.QualityGate, error.Code);
        Assert.Contains("teacher 98.15% -> result 90.74%", error.Message);
        Assert.Contains("drop 7.41 points, allowed 0.50", error.Message);
        var report = Path.Combine(project.Project, "obj", "modelbuild-out", "wine.onnx.report.json");
        Assert.Contains(report, error.Message);
        Assert.True(File.Exists(report));
        Assert.False(File.Exists(project.Output));
        Assert.Empty(Directory.GetDirectories(project.LocalCache));
    }

    [Fact]
    public void Worker_error_line_keeps_its_code_and_exit_1_without_report_is_not_a_gate()
    {
        var engine = new RecordingBuildEngine();
        Assert.False(project.Task(engine, project.Worker("""echo "##modelbuild[error MB0104] calib.npy holds NaN | remove the NaN rows"; exit 2""")).Execute());
        var error = Assert.Single(engine.Errors);
        Assert.Equal("MB0104", error.Code);
        Assert.Contains("calib.npy holds NaN Fix: remove the NaN rows", error.Message);

        engine = new RecordingBuildEngine();
        Assert.False(project.Task(engine, project.Worker("""echo "Unrecognized command 'compress'" >&2; exit 1""", "dotnet2")).Execute());
        Assert.Equal(TaskCodes.WorkerCrashed, Assert.Single(engine.Errors).Code);
    }

    [Fact]
    public void Exit_2_without_a_diagnostic_is_MB0608_with_the_log_path()
    {
        var engine = new RecordingBuildEngine();
        Assert.False(project.Task(engine, project.Worker("""echo "something went wrong" >&2; exit 2""")).Execute());
        var error = Assert.Single(engine.Errors);
        Assert.Equal(TaskCodes.WorkerRejectedInput, error.Code);
        Assert.Contains(Path.Combine(project.Project, "obj", "modelbuild", "logs"), error.Message);
    }

    [Fact]
    public void Worker_that_cannot_start_is_MB0606()
    {
        var engine = new RecordingBuildEngine();
        Assert.False(project.Task(engine, Path.Combine(project.Root, "no-such-dotnet")).Execute());
        Assert.Equal(TaskCodes.WorkerNotStarted, Assert.Single(engine.Errors).Code);
    }

    [Fact]
    public void Two_items_with_one_output_name_are_MB0610()
    {
        var engine = new RecordingBuildEngine();
        Assert.False(project.Task(engine, project.Worker(FakeWorkerProject.Succeeds), null, project.Item(), project.Item()).Execute());
        Assert.Equal(TaskCodes.DuplicateOutput, Assert.Single(engine.Errors).Code);
        Assert.Equal(0, project.WorkerRuns);
    }

    [Fact]
    public async Task Cancel_kills_the_worker_tree_and_leaves_no_partial_output()
    {
        var engine = new RecordingBuildEngine();
        var task = project.Task(engine, project.Worker($"""
            echo half > "$out"
            sleep 60 &
            echo $! > '{project.PidFile}'
            wait
            """));
        var run = Task.Run(task.Execute);
        var clock = Stopwatch.StartNew();
        while (!File.Exists(project.PidFile) || File.ReadAllText(project.PidFile).Trim().Length == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the worker did not start"); // a bound on "never", not a speed
            Thread.Sleep(50);
        }
        var sleeper = int.Parse(File.ReadAllText(project.PidFile).Trim());
        task.Cancel();
        Assert.False(await run.WaitAsync(TimeSpan.FromMinutes(2)));
        Assert.False(File.Exists(project.Output));
        Assert.DoesNotContain(Directory.GetFileSystemEntries(project.LocalCache), p => !p.EndsWith(".lock"));
        // The grandchild (sleep) is gone too: the whole tree was killed.
        Assert.True(ProcessGone(sleeper), $"process {sleeper} still runs");
    }

    [Fact]
    public async Task Two_builds_sharing_a_cache_run_the_worker_once()
    {
        var shared = Path.Combine(project.Root, "shared-cache");
        var worker = project.Worker($"""
            sleep 1
            {FakeWorkerProject.Succeeds}
            """);
        var second = new FakeWorkerProject();
        try
        {
            File.Copy(Path.Combine(project.Project, "teacher.onnx"), Path.Combine(second.Project, "teacher.onnx"), true);
            var engines = new[] { new RecordingBuildEngine(), new RecordingBuildEngine() };
            var runs = new[]
            {
                Task.Run(() => project.Task(engines[0], worker, shared).Execute()),
                Task.Run(() => second.Task(engines[1], worker, shared).Execute()),
            };
            Assert.All(await Task.WhenAll(runs), Assert.True);
            Assert.Equal(1, project.WorkerRuns);
            Assert.True(File.Exists(project.Output));
            Assert.True(File.Exists(second.Output));
            Assert.Single(engines, e => e.AllText.Contains("cache hit (shared"));
        }
        finally
        {
            second.Dispose();
        }
    }

    [Fact]
    public void A_lock_held_too_long_is_MB0609()
    {
        var engine = new RecordingBuildEngine();
        var shared = Path.Combine(project.Root, "shared-cache");
        var task = project.Task(engine, project.Worker(FakeWorkerProject.Succeeds), shared);
        task.LockTimeoutSeconds = 1;
        // Hold every possible key's lock by holding the one this item will need: compute it the way the task does.
        var recipe = Recipe.RecipeFromItem.Build(project.Item(), project.Project);
        var key = ContentKey.OfResult(recipe, ToolVersions.FromDepsFile(Path.Combine(project.WorkerDirectory, "modelbuild.deps.json")));
        using (ModelCache.TryLock(shared, key))
        {
            Assert.False(task.Execute());
        }
        Assert.Equal(TaskCodes.CacheLockTimeout, Assert.Single(engine.Errors).Code);
        Assert.Equal(0, project.WorkerRuns);
    }

    private static bool ProcessGone(int pid)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                if (p.HasExited) return true;
            }
            catch (ArgumentException)
            {
                return true;
            }
            Thread.Sleep(50);
        }
        return false;
    }
}
