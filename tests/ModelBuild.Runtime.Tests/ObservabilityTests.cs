using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

public sealed class ObservabilityTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Meter_counts_predictions_latency_reloads_and_failures_per_model_through_IMeterFactory()
    {
        var rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);
        string path = _dir.Copy(TestPaths.WineStudent, "m.onnx");
        var services = new ServiceCollection();
        services.AddMetrics();
        var logs = new ListLoggerProvider();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        services.AddPredictionEnginePool<WineInput, WineScores>()
            .FromFile("a", path, watchForChanges: false)
            .FromFile("b", TestPaths.WineTeacher, watchForChanges: false)
            .Configure(o => o.ReloadTimeout = TimeSpan.Zero);
        using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IMeterFactory>();

        var measurements = new ConcurrentBag<(string Instrument, double Value, string? Model)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Only this test's meter (created through this provider's IMeterFactory), not other tests' pools.
            if (instrument.Meter.Name == RuntimeMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => measurements.Add((i.Name, v, ModelTag(tags))));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => measurements.Add((i.Name, v, ModelTag(tags))));
        listener.Start();

        var pool = provider.GetRequiredService<PredictionEnginePool<WineInput, WineScores>>();
        for (int i = 0; i < 5; i++)
        {
            pool.Predict("a", new WineInput { Features = rows[i] });
        }
        pool.Predict("b", new WineInput { Features = rows[0] });
        pool.PredictBatch("b", [.. rows.Take(10).Select(r => new WineInput { Features = r })]);
        File.Copy(TestPaths.WineTeacher, path, overwrite: true);
        Assert.True(await pool.ReloadAsync("a"));
        File.WriteAllBytes(path, [0x08, 0x07]);
        await Assert.ThrowsAsync<ModelRuntimeException>(() => pool.ReloadAsync("a"));

        double Sum(string instrument, string model) => measurements.Where(m => m.Instrument == instrument && m.Model == model).Sum(m => m.Value);
        int Count(string instrument, string model) => measurements.Count(m => m.Instrument == instrument && m.Model == model);
        Assert.Equal(5, Sum("modelbuild.runtime.predictions", "a"));
        Assert.Equal(11, Sum("modelbuild.runtime.predictions", "b"));
        Assert.Equal(5, Count("modelbuild.runtime.prediction.duration", "a"));
        Assert.Equal(2, Count("modelbuild.runtime.prediction.duration", "b"));
        Assert.All(measurements.Where(m => m.Instrument == "modelbuild.runtime.prediction.duration"), m => Assert.InRange(m.Value, 1e-8, 10));
        Assert.Equal(1, Sum("modelbuild.runtime.reloads", "a"));
        Assert.Equal(1, Sum("modelbuild.runtime.reload_failures", "a"));
        Assert.Equal(0, Sum("modelbuild.runtime.reloads", "b"));

        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("Loaded model a"));
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Information && e.Message.Contains("Reloaded model a") && e.Message.Contains("1 -> 2"));
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("Reload of model a") && e.Message.Contains("generation 2 keeps serving"));
    }

    private static string? ModelTag(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == RuntimeMetrics.ModelNameTag)
            {
                return tag.Value as string;
            }
        }
        return null;
    }

    public void Dispose() => _dir.Dispose();
}
