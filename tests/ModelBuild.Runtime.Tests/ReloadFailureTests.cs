using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

/// <summary>Which reload failures are retried, and how the default model is named in logs.</summary>
public sealed class ReloadFailureTests
{
    private static string BreastCancerTeacher => Path.Combine(TestPaths.Shared, "teachers", "breast-cancer-mlp", "teacher.onnx");

    /// <summary>
    /// A new model that loads but does not fit the classes (30 inputs for a 13-wide property) fails the same way on
    /// every attempt: it used to be retried for the whole ReloadTimeout (10 s by default) before being reported.
    /// </summary>
    [Fact]
    public async Task A_model_that_does_not_fit_the_classes_is_reported_after_one_attempt()
    {
        var bytes = File.ReadAllBytes(TestPaths.WineTeacher);
        var loader = new ScriptedLoader(_ => Volatile.Read(ref bytes));
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores> { ReloadTimeout = TimeSpan.FromSeconds(30) });
        pool.AddModel("wine", loader);
        Volatile.Write(ref bytes, File.ReadAllBytes(BreastCancerTeacher));

        var error = await Assert.ThrowsAsync<ModelRuntimeException>(() => pool.ReloadAsync("wine"));
        Assert.Equal(RuntimeErrorCodes.ShapeMismatch, error.Code);
        Assert.Equal(2, loader.Reads); // the first load and one reload attempt
        Assert.Equal(ModelState.ServingStale, pool.GetModelStatuses()[0].State);
    }

    /// <summary>
    /// A torn model (a deploy still writing it) is still retried until it loads. It is read again every retry interval,
    /// but the same torn bytes are parsed by ONNX Runtime once (each retry used to build a session from them again);
    /// the whole bytes, read within the same reload, are built.
    /// </summary>
    [Fact]
    public async Task A_torn_model_is_retried_until_it_loads()
    {
        var whole = File.ReadAllBytes(TestPaths.WineStudent);
        var bytes = File.ReadAllBytes(TestPaths.WineTeacher);
        var loader = new ScriptedLoader(_ => Volatile.Read(ref bytes));
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>
        {
            ReloadTimeout = TimeSpan.FromSeconds(60), // a bound on "never"
            ReloadRetryInterval = TimeSpan.FromMilliseconds(10),
        });
        pool.AddModel("wine", loader);
        var builtBefore = pool.SessionBuilds;
        Volatile.Write(ref bytes, whole[..1000]);
        var reload = pool.ReloadAsync("wine");
        await Poll.Until(() => loader.Reads >= 10);
        Assert.Equal(1, pool.SessionBuilds - builtBefore);
        Volatile.Write(ref bytes, whole);

        Assert.True(await reload);
        Assert.Equal(2, pool.GetModelInfo("wine").Generation);
        Assert.True(loader.Reads >= 3);
        Assert.Equal(2, pool.SessionBuilds - builtBefore);
    }

    /// <summary>The same torn bytes with other session settings beside them are built again; then the reload times out.</summary>
    [Fact]
    public async Task Torn_bytes_with_new_session_settings_are_built_again()
    {
        var torn = File.ReadAllBytes(TestPaths.WineStudent)[..1000];
        var bytes = File.ReadAllBytes(TestPaths.WineTeacher);
        var recorded = new RecordedSessionSettings(1, 1, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
            Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_SEQUENTIAL, null, "scripted.session.json");
        var loader = new ScriptedLoader(_ => Volatile.Read(ref bytes), read => read >= 6 ? recorded : null);
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>
        {
            ReloadTimeout = TimeSpan.FromMilliseconds(500),
            ReloadRetryInterval = TimeSpan.FromMilliseconds(10),
        });
        pool.AddModel("wine", loader);
        var builtBefore = pool.SessionBuilds;
        Volatile.Write(ref bytes, torn);

        var error = await Assert.ThrowsAsync<ModelRuntimeException>(() => pool.ReloadAsync("wine"));
        Assert.Equal(RuntimeErrorCodes.ModelLoadFailed, error.Code);
        Assert.True(loader.Reads >= 8, $"{loader.Reads} reads");
        Assert.Equal(2, pool.SessionBuilds - builtBefore); // without settings, then with them
        // The error is thrown again on every retry; its stack trace holds one rethrow, not one per retry (it had a
        // ReloadAsync line per retry, about 40 here, when the exception object itself was rethrown).
        Assert.True(error.StackTrace!.Split("ReloadAsync").Length - 1 <= 4, error.StackTrace);
    }

    /// <summary>The default model's name is empty: log lines said "Loaded model  from ...".</summary>
    [Fact]
    public void The_default_model_is_named_in_logs()
    {
        var logs = new ListLoggerProvider();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs));
        services.AddPredictionEnginePool<WineInput, WineScores>().FromFile(TestPaths.WineStudent);
        using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        Assert.Contains(logs.Entries, e => e.Message.StartsWith($"Loaded model (default) from {TestPaths.WineStudent}", StringComparison.Ordinal));
    }
}
