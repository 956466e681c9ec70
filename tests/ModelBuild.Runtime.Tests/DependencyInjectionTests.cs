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
}
