using System.Diagnostics.Metrics;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

public sealed class ZeroAllocationTests
{
    [Theory]
    [InlineData("teacher.onnx")]
    [InlineData("student_kd.onnx")]
    public void Warm_predict_into_caller_output_allocates_nothing(string model)
    {
        var rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>());
        pool.AddModelFromFile("wine", Path.Combine(TestPaths.WineDirectory, model));
        var inputs = rows.Select(r => new WineInput { Features = r }).ToArray();
        var output = new WineScores();
        for (int i = 0; i < 200; i++)
        {
            pool.Predict("wine", inputs[i % inputs.Length], output);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5_000; i++)
        {
            pool.Predict("wine", inputs[i % inputs.Length], output);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(DirectOnnxRuntime.PredictRows(Path.Combine(TestPaths.WineDirectory, model), [rows[4999 % rows.Length]])[0], output.Scores);
    }

    [Fact]
    public void Warm_engine_from_the_pool_allocates_nothing()
    {
        var rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>());
        pool.AddModelFromFile("wine", TestPaths.WineStudent);
        var input = new WineInput { Features = rows[0] };
        var output = new WineScores();
        for (int i = 0; i < 100; i++)
        {
            using var lease = pool.LeaseEngine("wine");
            lease.Predict(input, output);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2_000; i++)
        {
            using var lease = pool.LeaseEngine("wine");
            lease.Predict(input, output);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Warm_predict_allocates_nothing_while_metrics_are_collected()
    {
        var rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);
        using var metrics = new RuntimeMetrics();
        long predictions = 0;
        double seconds = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, v, _, _) => predictions += v);
        listener.SetMeasurementEventCallback<double>((_, v, _, _) => seconds += v);
        listener.Start();
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>(), metrics: metrics);
        pool.AddModelFromFile("wine", TestPaths.WineStudent);
        var input = new WineInput { Features = rows[0] };
        var output = new WineScores();
        for (int i = 0; i < 100; i++)
        {
            pool.Predict("wine", input, output);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2_000; i++)
        {
            pool.Predict("wine", input, output);
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(2_100, predictions);
        Assert.True(seconds > 0);
    }
}
