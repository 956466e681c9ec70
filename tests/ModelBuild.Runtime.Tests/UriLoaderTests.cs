using Microsoft.Extensions.DependencyInjection;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

public sealed class UriLoaderTests
{
    private readonly float[][] _rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);

    [Theory]
    [InlineData(CacheValidator.ETag)]
    [InlineData(CacheValidator.LastModified)]
    [InlineData(CacheValidator.Neither)]
    public async Task FromUri_loads_with_retry_polls_conditionally_and_reloads_on_change(CacheValidator validator)
    {
        var teacher = DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, _rows[..1])[0];
        var student = DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, _rows[..1])[0];
        // The first request fails with 503: the loader must retry.
        using var server = new LoopbackModelServer(File.ReadAllBytes(TestPaths.WineTeacher), validator, failFirstRequests: 1);
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<WineInput, WineScores>()
            .FromUri("wine", server.ModelUri, TimeSpan.FromMilliseconds(100))
            .Configure(o => o.DownloadRetryDelay = TimeSpan.FromMilliseconds(20));
        await using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        var reloaded = new TaskCompletionSource<ModelReloadedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.ModelReloaded += (_, e) => reloaded.TrySetResult(e);

        Assert.Equal(teacher, pool.Predict("wine", new WineInput { Features = _rows[0] }).Scores);
        Assert.Equal(server.ModelUri.ToString(), pool.GetModelInfo("wine").Source);
        var first = server.Requests.Take(2).ToArray();
        Assert.Equal([503, 200], first.Select(r => r.Status));
        Assert.All(first, r => Assert.Equal((null, null), (r.IfNoneMatch, r.IfModifiedSince)));

        // Let a few polls happen while nothing changes.
        await Poll.Until(() => server.Requests.Count >= 5);
        var polls = server.Requests.Skip(2).ToArray();
        switch (validator)
        {
            case CacheValidator.ETag:
                Assert.All(polls, p => Assert.Equal(("\"v1\"", 304), (p.IfNoneMatch, p.Status)));
                break;
            case CacheValidator.LastModified:
                Assert.All(polls, p => Assert.Equal((true, 304), (p.IfModifiedSince is not null, p.Status)));
                break;
            default:
                // No validators to send: the whole body comes back and its hash shows it is unchanged.
                Assert.All(polls, p => Assert.Equal((null, null, 200), (p.IfNoneMatch, p.IfModifiedSince, p.Status)));
                break;
        }
        Assert.Equal(1, pool.GetModelInfo("wine").Generation);
        Assert.False(reloaded.Task.IsCompleted);

        server.Publish(File.ReadAllBytes(TestPaths.WineStudent));
        var e = await reloaded.Task.WaitAsync(Poll.Never);
        Assert.Equal(2, e.Info.Generation);
        Assert.Equal(student, pool.Predict("wine", new WineInput { Features = _rows[0] }).Scores);
        Assert.Equal(1, pool.LiveSessionCount);
    }

    [Fact]
    public void Unreachable_model_is_MB0709()
    {
        using var server = new LoopbackModelServer(File.ReadAllBytes(TestPaths.WineStudent), CacheValidator.ETag);
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>());
        var e = Assert.Throws<ModelRuntimeException>(() => pool.AddModelFromUri("m", new Uri(server.BaseUri, "missing.onnx"), TimeSpan.FromMinutes(1)));
        Assert.Equal("MB0709", e.Code);
        Assert.Contains("404", e.Message);
        Assert.Empty(pool.ModelNames);
    }
}
