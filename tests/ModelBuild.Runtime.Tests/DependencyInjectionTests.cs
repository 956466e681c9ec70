using MlNetApp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

public sealed class DependencyInjectionTests
{
    [Fact]
    public async Task Class_model_mismatch_fails_when_the_pool_is_resolved_and_the_health_check_reports_it_unhealthy()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPredictionEnginePool<WrongSizeInput, WineScores>()
            .FromFile("wine", TestPaths.WineTeacher, watchForChanges: false)
            .AddHealthCheck(tags: ["ready"]);
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<ModelRuntimeException>(() => provider.GetRequiredService<PredictionEnginePool<WrongSizeInput, WineScores>>());
        Assert.Equal("MB0704", error.Code);
        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains("ready", report.Entries["modelbuild-runtime"].Tags);
    }

    [Fact]
    public void Options_pattern_configures_pool_and_session_and_two_pools_coexist()
    {
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<WineInput, WineScores>()
            .FromFile(TestPaths.WineStudent)
            .Configure(o =>
            {
                o.MaximumEnginesPerModel = 3;
                o.Session.IntraOpNumThreads = 2;
                o.Session.GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL;
            });
        services.AddPredictionEnginePool<MlNetWineInput, MlNetWineScores>().FromFile("teacher", TestPaths.WineTeacher, false);
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<PredictionEnginePoolOptions<WineInput, WineScores>>>().Value;
        Assert.Equal(3, options.MaximumEnginesPerModel);
        Assert.Equal(2, options.Session.IntraOpNumThreads);
        var rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        Assert.Equal([""], pool.ModelNames);
        // Results do not depend on the optimization level for this model.
        Assert.Equal(DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, rows[..1])[0], pool.Predict(new WineInput { Features = rows[0] }).Scores);
        var other = provider.GetRequiredService<PredictionEnginePool<MlNetWineInput, MlNetWineScores>>();
        Assert.Equal(["teacher"], other.ModelNames);
        Assert.Same(provider.GetRequiredService<RuntimeMetrics>(), provider.GetRequiredService<RuntimeMetrics>());
    }

    /// <summary>
    /// A missing model file (or a folder given as one) was a bare FileNotFoundException / UnauthorizedAccessException.
    /// It is MB0701 naming the file, on each call to that model; the pool itself is created (the file may come later,
    /// WaitingForSourceTests), so the other models of the pool would serve.
    /// </summary>
    [Theory]
    [InlineData("missing")]
    [InlineData("folder")]
    public void A_model_file_that_cannot_be_read_is_MB0701_naming_it(string what)
    {
        var path = what == "missing" ? Path.Combine(Path.GetTempPath(), $"mb-no-such-{Guid.NewGuid():N}.onnx") : Path.GetTempPath();
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<WineInput, WineScores>().FromFile("wine", path, false);
        using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var error = Assert.Throws<ModelRuntimeException>(() => pool.Predict("wine", new WineInput()));
        Assert.Equal(RuntimeErrorCodes.ModelLoadFailed, error.Code);
        Assert.Contains(Path.GetFullPath(path), error.Cause);
        Assert.Contains(what == "missing" ? "does not exist" : "is a folder", error.Cause);
        Assert.Equal(ModelState.WaitingForSource, Assert.Single(pool.GetModelStatuses()).State);
    }

    /// <summary>After disposal a call said "no model named 'wine' is registered" (MB0706), which sends the user the wrong way.</summary>
    [Fact]
    public void A_call_after_the_provider_is_disposed_is_ObjectDisposedException()
    {
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<WineInput, WineScores>().FromFile("wine", TestPaths.WineStudent, false);
        var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var row = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX)[0];
        Assert.NotEmpty(pool.Predict("wine", new WineInput { Features = row }).Scores);
        provider.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pool.Predict("wine", new WineInput { Features = row }));
    }

    /// <summary>Microsoft.Extensions.ML's overloads compile here too: FromFile(modelName, filePath) watches, as there.</summary>
    [Fact]
    public void Microsoft_Extensions_ML_overloads_register_the_named_model()
    {
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<WineInput, WineScores>()
            .FromFile("wine", TestPaths.WineStudent)
            .FromUri("canary", new Uri("http://127.0.0.1:9/wine.onnx"));
        var options = services.BuildServiceProvider().GetRequiredService<IOptions<PredictionEnginePoolOptions<WineInput, WineScores>>>().Value;
        Assert.Equal(["wine", "canary"], options.Models.Select(m => m.Name).ToArray());
        // The FromUri(uri, period) forms: checked by the compiler.
        Action<PredictionEnginePoolBuilder<WineInput, WineScores>> compiles = b => b.FromUri("https://x/wine.onnx", TimeSpan.FromMinutes(1)).FromUri(new Uri("https://x/wine.onnx"), TimeSpan.FromMinutes(1));
        Assert.NotNull(compiles);
    }
}
