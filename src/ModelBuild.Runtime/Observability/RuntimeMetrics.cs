using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ModelBuild.Runtime;

/// <summary>
/// The "ModelBuild.Runtime" meter: predictions, prediction latency, reloads and reload failures, each tagged with
/// <c>model.name</c>. Created through IMeterFactory when the host registers one (AddMetrics), so metrics flow to
/// the host's exporters and test collectors.
/// </summary>
public sealed class RuntimeMetrics : IDisposable
{
    public const string MeterName = "ModelBuild.Runtime";
    public const string ModelNameTag = "model.name";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _predictions;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _reloads;
    private readonly Counter<long> _reloadFailures;

    public RuntimeMetrics(IMeterFactory? meterFactory = null)
    {
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(new MeterOptions(MeterName));
        }
        else
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }
        _predictions = _meter.CreateCounter<long>("modelbuild.runtime.predictions", "{prediction}", "Rows predicted.");
        // Small models answer in microseconds: buckets from 1 us, not the default HTTP-sized ones.
        _duration = _meter.CreateHistogram("modelbuild.runtime.prediction.duration", "s", "Duration of a Predict/PredictBatch call.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1] });
        _reloads = _meter.CreateCounter<long>("modelbuild.runtime.reloads", "{reload}", "Model generations swapped in.");
        _reloadFailures = _meter.CreateCounter<long>("modelbuild.runtime.reload_failures", "{failure}", "Reloads that failed (the previous generation kept serving).");
    }

    internal Meter Meter => _meter;

    internal bool PredictionsEnabled => _predictions.Enabled || _duration.Enabled;

    internal void RecordPrediction(string modelName, long startTimestamp, int rows)
    {
        var tag = new KeyValuePair<string, object?>(ModelNameTag, modelName);
        _predictions.Add(rows, tag);
        if (_duration.Enabled)
        {
            _duration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tag);
        }
    }

    internal void RecordReload(string modelName) => _reloads.Add(1, new KeyValuePair<string, object?>(ModelNameTag, modelName));

    internal void RecordReloadFailure(string modelName) => _reloadFailures.Add(1, new KeyValuePair<string, object?>(ModelNameTag, modelName));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
