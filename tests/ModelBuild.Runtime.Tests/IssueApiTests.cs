using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

/// <summary>The API exactly as the issue writes it, against wine-mlp, compared with a direct ONNX Runtime run.</summary>
public sealed class IssueApiTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly float[][] _rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);

    [Fact]
    public void Snippet_from_the_issue_predicts_what_onnx_runtime_predicts()
    {
        string wineOnnx = _dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, _rows);

        // --- the issue's snippet (file path made absolute: the test's working directory is bin/) ---
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<WineInput, WineScores>()
                .FromFile(modelName: "wine", filePath: wineOnnx, watchForChanges: true);
        using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        for (int i = 0; i < _rows.Length; i++)
        {
            var row = _rows[i];
            WineScores s = pool.Predict("wine", new WineInput { Features = row });
            // ---
            Assert.Equal(3, s.Scores.Length);
            Assert.Equal(expected[i], s.Scores);
        }
    }

    [Fact]
    public async Task Default_model_engines_leases_caller_output_async_and_batch_agree_with_onnx_runtime()
    {
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, _rows);
        var expectedBatch = DirectOnnxRuntime.PredictBatch(TestPaths.WineStudent, _rows);
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<WineInput, WineScores>().FromFile(TestPaths.WineStudent);
        using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();

        Assert.Equal(expected[0], pool.Predict(new WineInput { Features = _rows[0] }).Scores);

        var engine = pool.GetPredictionEngine();
        Assert.Equal(expected[1], engine.Predict(new WineInput { Features = _rows[1] }).Scores);
        pool.ReturnPredictionEngine(engine);
        Assert.Throws<InvalidOperationException>(() => pool.ReturnPredictionEngine(engine));

        using (var lease = pool.LeaseEngine(PredictionEnginePool<WineInput, WineScores>.DefaultModelName))
        {
            Assert.Equal(expected[2], lease.Predict(new WineInput { Features = _rows[2] }).Scores);
        }

        var output = new WineScores();
        pool.Predict("", new WineInput { Features = _rows[3] }, output);
        var firstArray = output.Scores;
        pool.Predict("", new WineInput { Features = _rows[4] }, output);
        Assert.Same(firstArray, output.Scores); // the caller's array is reused
        Assert.Equal(expected[4], output.Scores);

        Assert.Equal(expected[5], (await pool.PredictAsync(new WineInput { Features = _rows[5] })).Scores);

        // One ONNX Runtime call over [54,13]; compared with ONNX Runtime's own [54,13] run.
        var batch = pool.PredictBatch([.. _rows.Select(r => new WineInput { Features = r })]);
        Assert.Equal(_rows.Length, batch.Length);
        for (int i = 0; i < batch.Length; i++)
        {
            Assert.Equal(expectedBatch[i], batch[i].Scores);
        }
        // And a second batch of another size, through a pooled batch context.
        var small = pool.PredictBatch([.. _rows.Take(5).Select(r => new WineInput { Features = r })]);
        var expectedSmall = DirectOnnxRuntime.PredictBatch(TestPaths.WineStudent, _rows[..5]);
        for (int i = 0; i < small.Length; i++)
        {
            Assert.Equal(expectedSmall[i], small[i].Scores);
        }
    }

    [Fact]
    public void Model_info_names_shapes_hash_and_generation()
    {
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>());
        pool.AddModelFromFile("teacher", TestPaths.WineTeacher);
        var info = pool.GetModelInfo("teacher");
        Assert.Equal("teacher", info.Name);
        Assert.Equal(1, info.Generation);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(TestPaths.WineTeacher))), info.Sha256);
        Assert.Equal(new FileInfo(TestPaths.WineTeacher).Length, info.SizeBytes);
        Assert.Equal(Path.GetFullPath(TestPaths.WineTeacher), info.Source);
        Assert.True(DateTimeOffset.UtcNow - info.LoadedAt < TimeSpan.FromMinutes(1));
        var input = Assert.Single(info.Inputs);
        Assert.Equal("input", input.Name);
        Assert.Equal("Float", input.ElementType);
        Assert.Equal([-1L, 13L], input.Shape);
        var output = Assert.Single(info.Outputs);
        Assert.Equal("logits", output.Name);
        Assert.Equal([-1L, 3L], output.Shape);
    }

    [Fact]
    public async Task Models_are_added_and_removed_at_run_time_and_reload_swaps_generations()
    {
        var teacherExpected = DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, _rows[..3]);
        var studentExpected = DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, _rows[..3]);
        string path = _dir.Copy(TestPaths.WineTeacher, "model.onnx");
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>());
        var reloaded = new List<ModelReloadedEventArgs>();
        pool.ModelReloaded += (_, e) => reloaded.Add(e);

        pool.AddModelFromFile("a", path);
        pool.AddModelFromFile("b", TestPaths.WineStudent);
        Assert.Equal(["a", "b"], pool.ModelNames.OrderBy(n => n));
        Assert.Equal(teacherExpected[0], pool.Predict("a", new WineInput { Features = _rows[0] }).Scores);
        Assert.Equal(studentExpected[0], pool.Predict("b", new WineInput { Features = _rows[0] }).Scores);

        // A lease taken on generation 1 keeps running generation 1 after the swap.
        var changeToken = pool.GetReloadToken("a");
        var engine = pool.GetPredictionEngine("a");
        Assert.False(await pool.ReloadAsync("a")); // same bytes: nothing to do
        File.Copy(TestPaths.WineStudent, path, overwrite: true);
        Assert.True(await pool.ReloadAsync("a"));
        Assert.True(changeToken.HasChanged);
        Assert.Equal(2, pool.GetModelInfo("a").Generation);
        var e = Assert.Single(reloaded);
        Assert.Equal(("a", 1L, 2L), (e.ModelName, e.PreviousGeneration, e.Info.Generation));
        Assert.Equal(3, pool.LiveSessionCount); // a gen 1 (leased), a gen 2, b
        Assert.Equal(1, engine.Generation);
        Assert.Equal(teacherExpected[1], engine.Predict(new WineInput { Features = _rows[1] }).Scores);
        Assert.Equal(studentExpected[1], pool.Predict("a", new WineInput { Features = _rows[1] }).Scores);
        pool.ReturnPredictionEngine("a", engine);
        Assert.Equal(2, pool.LiveSessionCount); // gen 1 disposed with its last lease

        Assert.True(pool.RemoveModel("b"));
        Assert.False(pool.RemoveModel("b"));
        Assert.Equal(1, pool.LiveSessionCount);
        var error = Assert.Throws<ModelRuntimeException>(() => pool.Predict("b", new WineInput { Features = _rows[0] }));
        Assert.Equal("MB0706", error.Code);
    }

    [Fact]
    public async Task Bad_new_file_keeps_the_old_model_serving_and_raises_reload_failed()
    {
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, _rows[..1]);
        string path = _dir.Copy(TestPaths.WineTeacher, "model.onnx");
        var services = new ServiceCollection();
        services.AddLogging(); // as any ASP.NET Core host has; the health check service needs it
        services.AddPredictionEnginePool<WineInput, WineScores>()
            .FromFile("wine", path, watchForChanges: false)
            .Configure(o => o.ReloadTimeout = TimeSpan.FromMilliseconds(300))
            .AddHealthCheck();
        using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var failures = new List<ModelReloadFailedEventArgs>();
        pool.ModelReloadFailed += (_, e) => failures.Add(e);
        var health = provider.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>();
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        File.WriteAllBytes(path, [.. File.ReadAllBytes(TestPaths.WineTeacher).Take(1000)]); // truncated model
        var error = await Assert.ThrowsAsync<ModelRuntimeException>(() => pool.ReloadAsync("wine"));
        Assert.Equal("MB0701", error.Code);
        var failure = Assert.Single(failures);
        Assert.Equal(1, failure.ServingGeneration);
        Assert.Equal(expected[0], pool.Predict("wine", new WineInput { Features = _rows[0] }).Scores);
        var report = (await health.CheckHealthAsync());
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, report.Status);
        Assert.Contains("wine", report.Entries["modelbuild-runtime"].Description);
        Assert.Equal(1, pool.LiveSessionCount);
    }

    public void Dispose() => _dir.Dispose();
}
