using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// Batch-1 latency as a serving app sees it: one intra-op thread, input and output OrtValues allocated once,
/// median of many runs. Every input of the model is fed (one sample of each input of the set). Several models are measured interleaved, in rounds, so that load from other processes
/// on a shared machine falls on all of them alike rather than on whichever ran last.
/// </summary>
public static class LatencyMeter
{
    public const int DefaultRuns = 1000;

    /// <summary>Median batch-1 microseconds of each model, same sample for all, <paramref name="runs"/> runs each.</summary>
    public static double[] MeasureMedians(IReadOnlyList<string> modelPaths, InputSet sample, int runs = DefaultRuns, int batch = 1) =>
        Compare(modelPaths, sample, runs, batch).Medians;

    /// <summary>
    /// Medians, plus each model's paired ratio to the first: the median over rounds of (its round median / the first
    /// model's round median in the same round). Pairing by round cancels load that comes and goes on a shared machine,
    /// which moves both models of a round alike; this is the figure the latency gate decides on.
    /// </summary>
    public static LatencyComparison Compare(IReadOnlyList<string> modelPaths, InputSet sample, int runs = DefaultRuns, int batch = 1)
    {
        var timers = modelPaths.Select(p => new PreparedRun(p, sample, batch)).ToArray();
        try
        {
            foreach (var t in timers) t.Warmup(Math.Max(10, runs / 20));
            var samples = timers.Select(_ => new List<double>(runs)).ToArray();
            var roundRatios = timers.Select(_ => new List<double>()).ToArray();
            const int round = 50;
            for (var done = 0; done < runs; done += round)
            {
                var n = Math.Min(round, runs - done);
                var roundMedians = new double[timers.Length];
                for (var i = 0; i < timers.Length; i++)
                {
                    var start = samples[i].Count;
                    timers[i].Time(n, samples[i]);
                    roundMedians[i] = Metrics.Median(samples[i].GetRange(start, n).ToArray());
                }
                for (var i = 0; i < timers.Length; i++) roundRatios[i].Add(roundMedians[i] / roundMedians[0]);
            }
            return new LatencyComparison(
                samples.Select(s => Metrics.Median(s.ToArray())).ToArray(),
                roundRatios.Select(r => Metrics.Median(r.ToArray())).ToArray());
        }
        finally
        {
            foreach (var t in timers) t.Dispose();
        }
    }

    public static double MeasureMedian(string modelPath, InputSet sample, int runs = DefaultRuns, int batch = 1) =>
        MeasureMedians([modelPath], sample, runs, batch)[0];

    private sealed class PreparedRun : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly RunOptions _runOptions = new();
        private readonly OrtValue[] _inputs;
        private readonly OrtValue[] _outputs;
        private readonly string[] _inputNames;
        private readonly string[] _outputNames;

        public PreparedRun(string path, InputSet data, int batch)
        {
            var runner = new ModelRunner(path, intraOpThreads: 1);
            _session = runner.Session;
            batch = runner.BatchSize(batch);
            var bound = runner.Bind(data, "timing data");
            var count = Math.Min(batch, bound.Count);
            _inputNames = runner.InputNames.ToArray();
            _inputs = runner.CreateInputs(bound, 0, count);
            // Only tensor outputs get a pre-allocated buffer; a converter's ZipMap (a sequence of maps) is not fetched.
            _outputNames = runner.OutputNames.Where(n => _session.OutputMetadata[n].IsTensor).ToArray();
            if (_outputNames.Length == 0)
                throw new ModelBuildException(ModelRunner.UnreadableOutput,
                    $"'{path}' has no tensor output (only sequences or maps, e.g. a ZipMap), so it cannot be timed or scored.",
                    "Export the model with numeric tensor outputs (skl2onnx: options={'zipmap': False}).", path);
            // One run discovers the output shapes; afterwards outputs are written into buffers allocated once.
            using var first = _session.Run(_runOptions, _inputNames, _inputs, _outputNames);
            _outputs = first.Select(v =>
            {
                var info = v.GetTensorTypeAndShape();
                return OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, info.ElementDataType, info.Shape);
            }).ToArray();
        }

        public void Warmup(int n)
        {
            for (var i = 0; i < n; i++) _session.Run(_runOptions, _inputNames, _inputs, _outputNames, _outputs);
        }

        public void Time(int n, List<double> into)
        {
            for (var i = 0; i < n; i++)
            {
                var start = Stopwatch.GetTimestamp();
                _session.Run(_runOptions, _inputNames, _inputs, _outputNames, _outputs);
                into.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
        }

        public void Dispose()
        {
            foreach (var v in _inputs) v.Dispose();
            foreach (var v in _outputs) v.Dispose();
            _runOptions.Dispose();
            _session.Dispose();
        }
    }
}

/// <summary>Median microseconds per model, and each model's paired (per-round) ratio to the first model.</summary>
public sealed record LatencyComparison(double[] Medians, double[] RatiosToFirst);
