using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ModelBuild.Runtime;

namespace DigitsWeb;

/// <summary>
/// Totals of the "ModelBuild.Runtime" meter's instruments per model, for GET /metrics. A sample-sized stand-in for
/// an exporter: a MeterListener that enables only that meter's instruments and adds up what they record.
/// </summary>
public sealed class RuntimeMetricsSnapshot : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string Model), Totals> _totals = new();

    public RuntimeMetricsSnapshot()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == RuntimeMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Per instrument and model: how many measurements and their sum (for the duration histogram, sum / count is the mean in seconds).</summary>
    public IReadOnlyList<object> Read() =>
        [.. _totals.OrderBy(t => t.Key.Instrument, StringComparer.Ordinal).ThenBy(t => t.Key.Model, StringComparer.Ordinal)
            .Select(t => new { instrument = t.Key.Instrument, model = t.Key.Model, count = t.Value.Count, sum = t.Value.Sum })];

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var model = "";
        foreach (var tag in tags)
        {
            if (tag.Key == RuntimeMetrics.ModelNameTag) model = tag.Value as string ?? "";
        }
        _totals.GetOrAdd((instrument.Name, model), _ => new Totals()).Add(value);
    }

    public void Dispose() => _listener.Dispose();

    private sealed class Totals
    {
        private readonly Lock _gate = new();
        private long _count;
        private double _sum;

        public long Count { get { lock (_gate) return _count; } }
        public double Sum { get { lock (_gate) return _sum; } }

        public void Add(double value)
        {
            lock (_gate)
            {
                _count++;
                _sum += value;
            }
        }
    }
}
