using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

/// <summary>
/// A configured model whose source cannot be read when the pool is created (a canary FromUri whose server is down, a
/// file a deploy has not copied yet) used to fail the whole pool: resolving it threw, so every request re-ran the
/// singleton factory and the models that did load never served. Now that model waits for its source: calls to it
/// throw its MB code, the health check is Unhealthy naming it, the others serve, and it loads when the source can
/// be read. A model that is read but wrong for its classes still fails the pool (DependencyInjectionTests).
/// </summary>
public sealed class WaitingForSourceTests
{
    private readonly float[][] _rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);

    [Fact]
    public async Task A_canary_whose_server_is_down_does_not_stop_the_other_model_and_loads_when_the_server_answers()
    {
        using var server = new LoopbackModelServer(File.ReadAllBytes(TestPaths.WineStudent), CacheValidator.ETag, failFirstRequests: int.MaxValue);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPredictionEnginePool<WineInput, WineScores>()
            .FromFile("stable", TestPaths.WineTeacher, watchForChanges: false)
            .FromUri("canary", server.ModelUri, TimeSpan.FromMilliseconds(100))
            .Configure(o => o.DownloadRetries = 0)
            .AddHealthCheck();
        await using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var input = new WineInput { Features = _rows[0] };

        Assert.Equal(DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, _rows[..1])[0], pool.Predict("stable", input).Scores);
        var error = Assert.Throws<ModelRuntimeException>(() => pool.Predict("canary", input));
        Assert.Equal(RuntimeErrorCodes.DownloadFailed, error.Code);
        Assert.Contains("'canary' is not loaded yet", error.Cause);
        Assert.Contains("503", error.Cause);
        var statuses = pool.GetModelStatuses();
        Assert.Equal([("canary", ModelState.WaitingForSource, 0L), ("stable", ModelState.Serving, 1L)], statuses.Select(s => (s.Name, s.State, s.Generation)));
        var health = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.Contains("'canary'", health.Entries["modelbuild-runtime"].Description);

        var loaded = new TaskCompletionSource<ModelReloadedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.ModelReloaded += (_, e) => loaded.TrySetResult(e);
        server.StopFailing();
        var reloaded = await loaded.Task.WaitAsync(Poll.Never); // the poll is every 100 ms
        Assert.Equal(("canary", 0L, 1L), (reloaded.ModelName, reloaded.PreviousGeneration, reloaded.Info.Generation));
        Assert.Equal(DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, _rows[..1])[0], pool.Predict("canary", input).Scores);
        Assert.All(pool.GetModelStatuses(), s => Assert.Equal(ModelState.Serving, s.State));
        Assert.Equal(HealthStatus.Healthy, (await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Status);
        Assert.Equal(2, pool.LiveSessionCount);
    }

    /// <summary>An unwatched file has no change signal: a call starts the next attempt (at most once a second).</summary>
    [Fact]
    public async Task An_unwatched_file_that_appears_later_is_loaded_by_a_call()
    {
        using var dir = new TempDirectory();
        var path = dir.File("late.onnx");
        await using var provider = LateFile(path);
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var input = new WineInput { Features = _rows[0] };
        Assert.Equal(RuntimeErrorCodes.ModelLoadFailed, Assert.Throws<ModelRuntimeException>(() => pool.Predict("late", input)).Code);

        File.Copy(TestPaths.WineStudent, path);
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, _rows[..1])[0];
        await Poll.Until(() =>
        {
            try
            {
                return pool.Predict("late", input).Scores.SequenceEqual(expected);
            }
            catch (ModelRuntimeException e) when (e.Code == RuntimeErrorCodes.ModelLoadFailed)
            {
                return false; // not loaded yet
            }
        });
        Assert.Equal((ModelState.Serving, 1L), (pool.GetModelStatuses()[0].State, pool.GetModelInfo("late").Generation));
    }

    /// <summary>
    /// ReloadAsync on a model that waits tries now, as a reload does (until ReloadTimeout): it throws the source's error
    /// and raises ModelReloadFailed with serving generation 0 (it was silent before), then loads once the source is there.
    /// </summary>
    [Fact]
    public async Task ReloadAsync_on_a_waiting_model_throws_its_error_raises_ModelReloadFailed_then_loads()
    {
        using var dir = new TempDirectory();
        var path = dir.File("late.onnx");
        await using var provider = LateFile(path, reloadTimeout: TimeSpan.FromMilliseconds(300));
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var failures = new List<ModelReloadFailedEventArgs>();
        pool.ModelReloadFailed += (_, e) => { lock (failures) failures.Add(e); };

        var error = await Assert.ThrowsAsync<ModelRuntimeException>(() => pool.ReloadAsync("late"));
        Assert.Equal(RuntimeErrorCodes.ModelLoadFailed, error.Code);
        var failure = Assert.Single(failures);
        Assert.Equal(("late", 0L), (failure.ModelName, failure.ServingGeneration));
        Assert.Same(error, failure.Error);
        File.Copy(TestPaths.WineStudent, path);
        Assert.True(await pool.ReloadAsync("late"));
        Assert.Equal(1, pool.GetModelInfo("late").Generation);
        Assert.Single(failures);
    }

    /// <summary>
    /// A watched file deployed to a model that waits: written in two halves, the first read fails to load and is
    /// retried until the rest is there, with no ModelReloadFailed; a file that is not a model raises ModelReloadFailed
    /// (serving generation 0) once the reload timeout has passed, and the model keeps waiting.
    /// </summary>
    [Fact]
    public async Task A_deploy_to_a_waiting_watched_file_is_retried_while_written_and_a_bad_one_is_reported()
    {
        using var dir = new TempDirectory();
        var path = dir.File("late.onnx");
        await using var provider = LateFile(path, reloadTimeout: TimeSpan.FromSeconds(5), watch: true);
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var failed = new TaskCompletionSource<ModelReloadFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        var loaded = new TaskCompletionSource<ModelReloadedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.ModelReloadFailed += (_, e) => failed.TrySetResult(e);
        pool.ModelReloaded += (_, e) => loaded.TrySetResult(e);

        var bytes = File.ReadAllBytes(TestPaths.WineStudent);
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite))
        {
            await stream.WriteAsync(bytes.AsMemory(0, bytes.Length / 2));
            await stream.FlushAsync();
            await Task.Delay(1000); // the change is seen (200 ms debounce) and the half file read and retried meanwhile
            await stream.WriteAsync(bytes.AsMemory(bytes.Length / 2));
        }
        var reloaded = await loaded.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(("late", 0L, 1L), (reloaded.ModelName, reloaded.PreviousGeneration, reloaded.Info.Generation));
        Assert.False(failed.Task.IsCompleted);

        using var dir2 = new TempDirectory();
        var badPath = dir2.File("bad.onnx");
        await using var provider2 = LateFile(badPath, reloadTimeout: TimeSpan.FromMilliseconds(300), watch: true);
        var pool2 = provider2.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var failed2 = new TaskCompletionSource<ModelReloadFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        pool2.ModelReloadFailed += (_, e) => failed2.TrySetResult(e);
        File.WriteAllText(badPath, "not an onnx model");
        var failure = await failed2.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(("late", 0L), (failure.ModelName, failure.ServingGeneration));
        Assert.Equal(ModelState.WaitingForSource, pool2.GetModelStatuses()[0].State);
    }

    /// <summary>
    /// ReloadAsync on a URI model whose server is down: the loader's poll has retried already, so the reload reports at
    /// once (one poll's requests, one ModelReloadFailed) instead of polling again until ReloadTimeout (found in review:
    /// 28 requests over 10 s).
    /// </summary>
    [Fact]
    public async Task ReloadAsync_on_a_waiting_uri_model_whose_server_is_down_polls_once()
    {
        using var server = new LoopbackModelServer(File.ReadAllBytes(TestPaths.WineStudent), CacheValidator.ETag, failFirstRequests: int.MaxValue);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPredictionEnginePool<WineInput, WineScores>()
            .FromUri("canary", server.ModelUri, TimeSpan.FromHours(1))
            .Configure(o => { o.DownloadRetries = 1; o.ReloadTimeout = TimeSpan.FromSeconds(30); });
        await using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var failures = 0;
        pool.ModelReloadFailed += (_, e) => Interlocked.Increment(ref failures);
        var before = server.Requests.Count;

        var error = await Assert.ThrowsAsync<ModelRuntimeException>(() => pool.ReloadAsync("canary"));
        Assert.Equal(RuntimeErrorCodes.DownloadFailed, error.Code);
        Assert.Equal(1, failures);
        Assert.Equal(2, server.Requests.Count - before); // one poll: the request and its one retry
    }

    /// <summary>
    /// A deploy whose model file is complete but whose session sidecar is still half copied: the reload retries the
    /// sidecar until it is whole and loads, with no ModelReloadFailed. (The retry used to skip bytes it had seen fail,
    /// whatever failed, so the finished sidecar was never read again and the reload failed at ReloadTimeout.)
    /// </summary>
    [Fact]
    public async Task ReloadAsync_on_a_waiting_model_reads_a_half_copied_sidecar_again_until_it_is_whole()
    {
        using var dir = new TempDirectory();
        var path = dir.File("late.onnx");
        await using var provider = LateFile(path, reloadTimeout: TimeSpan.FromSeconds(20));
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var failures = 0;
        pool.ModelReloadFailed += (_, e) => Interlocked.Increment(ref failures);
        const string sidecar = """{ "format": "modelbuild.session/1", "intraOpThreads": 2, "interOpThreads": 1, "graphOptimizationLevel": "extended", "executionMode": "sequential" }""";
        File.Copy(TestPaths.WineStudent, path);
        File.WriteAllText(RecordedSessionSettings.SidecarPath(path), sidecar[..(sidecar.Length / 2)]);

        var reload = pool.ReloadAsync("late");
        await Task.Delay(500); // the half sidecar is read and retried meanwhile
        Assert.False(reload.IsCompleted);
        File.WriteAllText(RecordedSessionSettings.SidecarPath(path), sidecar);

        Assert.True(await reload.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, failures);
        Assert.Equal(1, pool.GetModelInfo("late").Generation);
        Assert.Equal(2, pool.GetModelInfo("late").Session!.IntraOpNumThreads);
    }

    /// <summary>A pool (with logging and the health check) whose one model "late" is a file that is not there yet (unwatched unless asked).</summary>
    private static ServiceProvider LateFile(string path, TimeSpan? reloadTimeout = null, bool watch = false)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var builder = services.AddPredictionEnginePool<WineInput, WineScores>().FromFile("late", path, watchForChanges: watch).AddHealthCheck();
        if (reloadTimeout is { } timeout) builder.Configure(o => o.ReloadTimeout = timeout);
        return services.BuildServiceProvider();
    }

    private static PredictionEnginePool<WineInput, WineScores> PoolOf(ModelLoader loader)
    {
        var options = new PredictionEnginePoolOptions<WineInput, WineScores>();
        options.Models.Add(new ModelRegistration("m", (_, _) => loader));
        return new PredictionEnginePool<WineInput, WineScores>(options);
    }

    /// <summary>
    /// A change that lands while a first load is reading the old bytes: the attempt it starts found the model loaded and
    /// stopped, so the model stayed on the old bytes (found in review). It now reads the source again.
    /// </summary>
    [Fact]
    public async Task A_change_during_a_first_load_is_not_lost()
    {
        byte[] v1 = File.ReadAllBytes(TestPaths.WineTeacher), v2 = File.ReadAllBytes(TestPaths.WineStudent);
        using var inRead = new ManualResetEventSlim();
        using var proceed = new ManualResetEventSlim();
        ScriptedLoader? loader = null;
        loader = new ScriptedLoader(n =>
        {
            if (n == 1) throw new IOException("not there yet");
            if (n == 2)
            {
                inRead.Set();
                proceed.Wait();
                return v1;
            }
            return v2;
        });
        using var pool = PoolOf(loader);
        var first = Task.Run(() => pool.ReloadAsync("m")); // the second read: blocks in the loader
        Assert.True(inRead.Wait(TimeSpan.FromSeconds(60)));
        loader.Fire(); // the source changes while the old bytes are being read
        proceed.Set();
        Assert.True(await first);
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, _rows[..1])[0];
        await Poll.Until(() => pool.GetModelInfo("m").Generation == 2);
        Assert.Equal(expected, pool.Predict("m", new WineInput { Features = _rows[0] }).Scores);
    }

    /// <summary>
    /// A model that turns up but does not fit the classes fails the same way every time: calls stopped retrying it
    /// only never (a session built per attempt); now they stop, and the next source change tries again.
    /// </summary>
    [Fact]
    public async Task A_model_that_turns_up_wrong_is_not_retried_by_calls_but_by_the_next_change()
    {
        var wrong = File.ReadAllBytes(Path.Combine(TestPaths.Shared, "teachers", "breast-cancer-mlp", "teacher.onnx"));
        var right = File.ReadAllBytes(TestPaths.WineStudent);
        var current = wrong;
        var loader = new ScriptedLoader(n => n == 1 ? throw new IOException("not there yet") : Volatile.Read(ref current));
        using var pool = PoolOf(loader);
        var input = new WineInput { Features = _rows[0] };
        await Poll.Until(() =>
        {
            try { pool.Predict("m", input); } catch (ModelRuntimeException) { }
            return loader.Reads >= 2;
        });
        await Poll.Until(() => Assert.Throws<ModelRuntimeException>(() => pool.Predict("m", input)).Code == RuntimeErrorCodes.ShapeMismatch);
        var reads = loader.Reads;
        var until = DateTime.UtcNow + 3 * ModelBuild.Runtime.Sessions.ModelEntry<WineInput, WineScores>.CallTriggeredLoadInterval;
        while (DateTime.UtcNow < until)
        {
            Assert.Contains("when its source changes", Assert.Throws<ModelRuntimeException>(() => pool.Predict("m", input)).Remedy);
            await Task.Delay(50);
        }
        Assert.Equal(reads, loader.Reads);

        Volatile.Write(ref current, right);
        loader.Fire();
        await Poll.Until(() => pool.GetModelStatuses()[0].State == ModelState.Serving);
        Assert.Equal(DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, _rows[..1])[0], pool.Predict("m", input).Scores);
    }

    /// <summary>
    /// Behind a readiness probe no call arrives until the check is Healthy: an unwatched file that appears later has to
    /// be loaded by the health check itself.
    /// </summary>
    [Fact]
    public async Task The_health_check_alone_loads_a_file_that_appears_later()
    {
        using var dir = new TempDirectory();
        var path = dir.File("late.onnx");
        await using var provider = LateFile(path);
        provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var health = provider.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Status);

        File.Copy(TestPaths.WineStudent, path);
        await Poll.Until(async () => (await health.CheckHealthAsync()).Status == HealthStatus.Healthy);
    }
}
