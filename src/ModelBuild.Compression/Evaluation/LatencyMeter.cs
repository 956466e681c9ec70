using ModelBuild.Compression.Data;
using ModelBuild.Onnx;

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
    public static LatencyComparison Compare(IReadOnlyList<string> modelPaths, InputSet sample, int runs = DefaultRuns, int batch = 1) =>
        Compare(modelPaths.Select(p => (Func<ModelRunner>)(() => new ModelRunner(p, intraOpThreads: 1))).ToArray(), sample, runs, batch);

    private static LatencyComparison Compare(IReadOnlyList<Func<ModelRunner>> models, InputSet sample, int runs, int batch)
    {
        var timers = models.Select(open => new TimedRun(open(), sample, batch)).ToArray();
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

    /// <summary>Median batch-1 microseconds of a model in memory (pruning's steps).</summary>
    public static double MeasureMedian(OnnxModel model, InputSet sample, int runs = DefaultRuns) =>
        Compare([() => new ModelRunner(model, intraOpThreads: 1)], sample, runs, 1).Medians[0];
}

/// <summary>Median microseconds per model, and each model's paired (per-round) ratio to the first model.</summary>
public sealed record LatencyComparison(double[] Medians, double[] RatiosToFirst);
