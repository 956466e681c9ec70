using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

public sealed class FileWatchTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly float[][] _rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);

    private static PredictionEnginePool<WineInput, WineScores> WatchedPool() =>
        new(new PredictionEnginePoolOptions<WineInput, WineScores>
        {
            FileChangeDebounce = TimeSpan.FromMilliseconds(50),
            ReloadRetryInterval = TimeSpan.FromMilliseconds(50),
            ReloadTimeout = TimeSpan.FromMilliseconds(500),
        });

    [Fact]
    public async Task Atomic_rename_deploy_is_picked_up()
    {
        string path = _dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        using var pool = WatchedPool();
        pool.AddModelFromFile("wine", path, watchForChanges: true);
        var reloaded = new TaskCompletionSource<ModelReloadedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.ModelReloaded += (_, e) => reloaded.TrySetResult(e);

        string temp = _dir.Copy(TestPaths.WineStudent, "wine.onnx.new");
        File.Move(temp, path, overwrite: true);

        var e = await reloaded.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, e.Info.Generation);
        Assert.Equal(DirectOnnxRuntime.PredictRows(TestPaths.WineStudent, _rows[..1])[0], pool.Predict("wine", new WineInput { Features = _rows[0] }).Scores);
    }

    [Fact]
    public async Task Bad_file_from_the_watcher_raises_ReloadFailed_and_the_old_model_keeps_serving()
    {
        string path = _dir.Copy(TestPaths.WineTeacher, "wine.onnx");
        using var pool = WatchedPool();
        pool.AddModelFromFile("wine", path, watchForChanges: true);
        var failed = new TaskCompletionSource<ModelReloadFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.ModelReloadFailed += (_, e) => failed.TrySetResult(e);

        File.WriteAllText(path, "this is not an onnx model");

        var e = await failed.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("MB0701", Assert.IsType<ModelRuntimeException>(e.Error).Code);
        Assert.Equal(1, e.ServingGeneration);
        Assert.Equal(DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, _rows[..1])[0], pool.Predict("wine", new WineInput { Features = _rows[0] }).Scores);
        var status = Assert.Single(pool.GetModelStatuses());
        Assert.Equal(ModelState.ServingStale, status.State);
        Assert.Contains("MB0701", status.LastError);
        Assert.Equal(1, pool.LiveSessionCount);
    }

    public void Dispose() => _dir.Dispose();
}
