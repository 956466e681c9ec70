using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

/// <summary>Which reload failures are retried, and how the default model is named in logs.</summary>
public sealed class ReloadFailureTests
{
    private static string BreastCancerTeacher => Path.Combine(TestPaths.Shared, "teachers", "breast-cancer-mlp", "teacher.onnx");

    /// <summary>A model whose bytes the test sets; counts the reads.</summary>
    private sealed class CountingLoader(byte[] bytes) : ModelLoader
    {
        private int _reads;
        public byte[] Bytes { get; set; } = bytes;
        public int Reads => Volatile.Read(ref _reads);
        public override string Source => "test";
        public override ValueTask<byte[]> ReadModelAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return ValueTask.FromResult(Bytes);
        }
        public override IChangeToken GetReloadToken() => new CancellationChangeToken(CancellationToken.None);
    }

    /// <summary>
    /// A new model that loads but does not fit the classes (30 inputs for a 13-wide property) fails the same way on
    /// every attempt: it used to be retried for the whole ReloadTimeout (10 s by default) before being reported.
    /// </summary>
    [Fact]
    public async Task A_model_that_does_not_fit_the_classes_is_reported_after_one_attempt()
    {
        var loader = new CountingLoader(File.ReadAllBytes(TestPaths.WineTeacher));
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores> { ReloadTimeout = TimeSpan.FromSeconds(30) });
        pool.AddModel("wine", loader);
        loader.Bytes = File.ReadAllBytes(BreastCancerTeacher);

        var error = await Assert.ThrowsAsync<ModelRuntimeException>(() => pool.ReloadAsync("wine"));
        Assert.Equal(RuntimeErrorCodes.ShapeMismatch, error.Code);
        Assert.Equal(2, loader.Reads); // the first load and one reload attempt
        Assert.Equal(ModelState.ServingStale, pool.GetModelStatuses()[0].State);
    }

    /// <summary>A torn model (a deploy still writing it) is still retried until it loads.</summary>
    [Fact]
    public async Task A_torn_model_is_retried_until_it_loads()
    {
        var whole = File.ReadAllBytes(TestPaths.WineStudent);
        var loader = new CountingLoader(File.ReadAllBytes(TestPaths.WineTeacher));
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>
        {
            ReloadTimeout = TimeSpan.FromSeconds(60), // a bound on "never"
            ReloadRetryInterval = TimeSpan.FromMilliseconds(10),
        });
        pool.AddModel("wine", loader);
        loader.Bytes = whole[..1000];
        var reload = pool.ReloadAsync("wine");
        while (loader.Reads < 3) await Task.Delay(5);
        loader.Bytes = whole;

        Assert.True(await reload);
        Assert.Equal(2, pool.GetModelInfo("wine").Generation);
        Assert.True(loader.Reads >= 3);
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
