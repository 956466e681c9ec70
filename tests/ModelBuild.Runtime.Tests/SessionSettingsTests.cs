using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

/// <summary>
/// The settings `modelbuild compress --tune-session auto` records beside a model (&lt;model&gt;.session.json): the pool
/// applies them, what the app sets wins per setting, the concurrency cap applies, a sidecar for other bytes is ignored,
/// and a malformed one is MB0740 naming the file.
/// </summary>
public sealed class SessionSettingsTests
{
    private static string Sidecar(int intra = 2, string level = "extended", string mode = "sequential", string? sha = null) =>
        $$"""
        { "format": "modelbuild.session/1", {{(sha is null ? "" : $"\"modelSha256\": \"{sha}\",")}}
          "intraOpThreads": {{intra}}, "interOpThreads": 1, "graphOptimizationLevel": "{{level}}", "executionMode": "{{mode}}",
          "measured": { "batch": 1, "processorCount": 2 } }
        """;

    private static (ServiceProvider Provider, PredictionEnginePool<WineInput, WineScores> Pool) Pool(string model, Action<OnnxSessionOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPredictionEnginePool<WineInput, WineScores>().FromFile("wine", model, watchForChanges: false)
            .Configure(o => configure?.Invoke(o.Session));
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>());
    }

    private static string Sha(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    [Fact]
    public void The_pool_applies_the_recorded_settings_and_predicts_the_same()
    {
        using var dir = new TempDirectory();
        var model = dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        File.WriteAllText(model + ".session.json", Sidecar(sha: Sha(model)));
        var (provider, pool) = Pool(model);
        using var _ = provider;

        var session = pool.GetModelInfo("wine").Session!;
        Assert.Equal(Math.Min(2, Environment.ProcessorCount), session.IntraOpNumThreads);
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_EXTENDED, session.GraphOptimizationLevel);
        Assert.Equal(ExecutionMode.ORT_SEQUENTIAL, session.ExecutionMode);
        Assert.Equal(model + ".session.json", session.RecordedSettingsFile);
        var rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, rows[..1])[0];
        var got = pool.Predict("wine", new WineInput { Features = rows[0] }).Scores;
        Assert.Equal(expected.Length, got.Length);
        for (var i = 0; i < got.Length; i++) Assert.Equal(expected[i], got[i], 4);
    }

    [Fact]
    public void Settings_the_app_configures_win_one_by_one_and_the_rest_come_from_the_sidecar()
    {
        using var dir = new TempDirectory();
        var model = dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        File.WriteAllText(model + ".session.json", Sidecar(intra: 2, level: "basic", mode: "parallel"));
        var (provider, pool) = Pool(model, o =>
        {
            o.IntraOpNumThreads = 1;
            o.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
        });
        using var _ = provider;

        var session = pool.GetModelInfo("wine").Session!;
        Assert.Equal(1, session.IntraOpNumThreads);
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_ALL, session.GraphOptimizationLevel);
        Assert.Equal(ExecutionMode.ORT_PARALLEL, session.ExecutionMode); // not set by the app: recorded
    }

    [Fact]
    public void UseRecordedSettings_false_ignores_the_sidecar()
    {
        using var dir = new TempDirectory();
        var model = dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        File.WriteAllText(model + ".session.json", Sidecar(intra: 2, level: "basic"));
        var (provider, pool) = Pool(model, o => o.UseRecordedSettings = false);
        using var _ = provider;

        var session = pool.GetModelInfo("wine").Session!;
        Assert.Equal(new EffectiveSessionSettings(1, 1, GraphOptimizationLevel.ORT_ENABLE_ALL, ExecutionMode.ORT_SEQUENTIAL, null), session);
    }

    [SkippableFact]
    public void A_call_that_overlaps_another_runs_on_a_one_thread_session_and_a_lone_call_on_the_recorded_one()
    {
        Skip.If(Environment.ProcessorCount < 2, "the recorded 2 threads are capped to 1 on one core: no second session");
        using var dir = new TempDirectory();
        var model = dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        File.WriteAllText(model + ".session.json", Sidecar(intra: 2, level: "all"));
        var (provider, pool) = Pool(model);
        using var _ = provider;

        var session = pool.GetModelInfo("wine").Session!;
        Assert.Equal(2, session.IntraOpNumThreads);
        Assert.True(session.OneThreadForOverlappingCalls);
        var rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, rows[..1])[0];
        // Leases hold their context: the first caller in gets the solo (2-thread) session, the overlapping one a 1-thread one.
        var lone = pool.GetPredictionEngine("wine");
        var overlapping = pool.GetPredictionEngine("wine");
        Assert.True(lone.Context.IsSolo);
        Assert.False(overlapping.Context.IsSolo);
        foreach (var engine in new[] { lone, overlapping })
        {
            var got = engine.Predict(new WineInput { Features = rows[0] }).Scores;
            for (var i = 0; i < got.Length; i++) Assert.Equal(expected[i], got[i], 4);
        }
        pool.ReturnPredictionEngine("wine", overlapping);
        pool.ReturnPredictionEngine("wine", lone);
        var next = pool.GetPredictionEngine("wine");
        Assert.True(next.Context.IsSolo); // nobody else in flight again
        pool.ReturnPredictionEngine("wine", next);
    }

    [Fact]
    public void Recorded_parallel_execution_also_gets_the_one_thread_session_for_overlapping_calls()
    {
        using var dir = new TempDirectory();
        var model = dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        File.WriteAllText(model + ".session.json", """{ "intraOpThreads": 1, "interOpThreads": 2, "executionMode": "parallel" }""");
        var (provider, pool) = Pool(model);
        using var _ = provider;

        var session = pool.GetModelInfo("wine").Session!;
        Assert.Equal(ExecutionMode.ORT_PARALLEL, session.ExecutionMode);
        Assert.True(session.OneThreadForOverlappingCalls);
        Assert.Equal(new EffectiveSessionSettings(1, 1, GraphOptimizationLevel.ORT_ENABLE_ALL, ExecutionMode.ORT_SEQUENTIAL, model + ".session.json"), session.ForOverlappingCalls());
        var a = pool.GetPredictionEngine("wine");
        var b = pool.GetPredictionEngine("wine");
        Assert.True(a.Context.IsSolo);
        Assert.False(b.Context.IsSolo);
        pool.ReturnPredictionEngine("wine", b);
        pool.ReturnPredictionEngine("wine", a);
    }

    [Fact]
    public void Threads_the_app_sets_and_OneThreadForOverlappingCalls_false_keep_one_session()
    {
        using var dir = new TempDirectory();
        var model = dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        File.WriteAllText(model + ".session.json", Sidecar(intra: 2, level: "all"));
        foreach (var configure in new Action<OnnxSessionOptions>[] { o => o.OneThreadForOverlappingCalls = false, o => o.IntraOpNumThreads = 2 })
        {
            var (provider, pool) = Pool(model, configure);
            using var _ = provider;
            var session = pool.GetModelInfo("wine").Session!;
            Assert.False(session.OneThreadForOverlappingCalls);
            var a = pool.GetPredictionEngine("wine");
            var b = pool.GetPredictionEngine("wine");
            Assert.False(a.Context.IsSolo || b.Context.IsSolo);
            pool.ReturnPredictionEngine("wine", b);
            pool.ReturnPredictionEngine("wine", a);
        }
    }

    [Fact]
    public void Expected_concurrent_callers_cap_the_recorded_intra_op_threads()
    {
        using var dir = new TempDirectory();
        var model = dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        File.WriteAllText(model + ".session.json", Sidecar(intra: 64));
        var (provider, pool) = Pool(model, o => o.ExpectedConcurrentCallers = 8);
        using var _ = provider;

        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 8), pool.GetModelInfo("wine").Session!.IntraOpNumThreads);
    }

    [Fact]
    public void A_sidecar_measured_for_other_bytes_is_ignored()
    {
        using var dir = new TempDirectory();
        var model = dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        File.WriteAllText(model + ".session.json", Sidecar(intra: 2, level: "basic", sha: Sha(TestPaths.WineStudent)));
        var (provider, pool) = Pool(model);
        using var _ = provider;

        var session = pool.GetModelInfo("wine").Session!;
        Assert.Null(session.RecordedSettingsFile);
        Assert.Equal(GraphOptimizationLevel.ORT_ENABLE_ALL, session.GraphOptimizationLevel);
    }

    [Fact]
    public void Without_a_sidecar_the_pool_keeps_its_defaults()
    {
        var (provider, pool) = Pool(TestPaths.WineTeacher);
        using var _ = provider;
        Assert.Equal(new EffectiveSessionSettings(1, 1, GraphOptimizationLevel.ORT_ENABLE_ALL, ExecutionMode.ORT_SEQUENTIAL, null), pool.GetModelInfo("wine").Session);
    }

    [Theory]
    [InlineData("{ not json")]
    [InlineData("""{ "intraOpThreads": 0 }""")]
    [InlineData("""{ "intraOpThreads": "two" }""")]
    [InlineData("""{ "graphOptimizationLevel": "all" }""")]
    [InlineData("""{ "intraOpThreads": 2, "graphOptimizationLevel": "fastest" }""")]
    [InlineData("""{ "intraOpThreads": 2, "executionMode": "both" }""")]
    [InlineData("""{ "format": "modelbuild.session/9", "intraOpThreads": 2 }""")]
    [InlineData("[2]")]
    public void A_malformed_sidecar_is_MB0740_naming_the_file(string json)
    {
        using var dir = new TempDirectory();
        var model = dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        var sidecar = model + ".session.json";
        File.WriteAllText(sidecar, json);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddPredictionEnginePool<WineInput, WineScores>().FromFile("wine", model, watchForChanges: false);
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<ModelRuntimeException>(() => provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>());
        Assert.Equal("MB0740", error.Code);
        Assert.Contains(sidecar, error.Message);
        Assert.Equal(sidecar, error.Item);
    }
}
