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
        var reloaded = await loaded.Task.WaitAsync(TimeSpan.FromSeconds(60)); // a bound on "never": the poll is every 100 ms
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
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<WineInput, WineScores>().FromFile("late", path, watchForChanges: false);
        await using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var input = new WineInput { Features = _rows[0] };
        Assert.Equal(RuntimeErrorCodes.ModelLoadFailed, Assert.Throws<ModelRuntimeException>(() => pool.Predict("late", input)).Code);

        File.Copy(TestPaths.WineStudent, path);
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, _rows[..1])[0];
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); // a bound on "never"
        while (true)
        {
            try
            {
                Assert.Equal(expected, pool.Predict("late", input).Scores);
                break;
            }
            catch (ModelRuntimeException e) when (e.Code == RuntimeErrorCodes.ModelLoadFailed && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
        Assert.Equal((ModelState.Serving, 1L), (pool.GetModelStatuses()[0].State, pool.GetModelInfo("late").Generation));
    }

    /// <summary>ReloadAsync on a model that waits tries once now: it throws the source's error, then loads once the source is there.</summary>
    [Fact]
    public async Task ReloadAsync_on_a_waiting_model_throws_its_error_then_loads()
    {
        using var dir = new TempDirectory();
        var path = dir.File("late.onnx");
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<WineInput, WineScores>().FromFile("late", path, watchForChanges: false);
        await using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();

        var error = await Assert.ThrowsAsync<ModelRuntimeException>(() => pool.ReloadAsync("late"));
        Assert.Equal(RuntimeErrorCodes.ModelLoadFailed, error.Code);
        File.Copy(TestPaths.WineStudent, path);
        Assert.True(await pool.ReloadAsync("late"));
        Assert.Equal(1, pool.GetModelInfo("late").Generation);
    }
}
