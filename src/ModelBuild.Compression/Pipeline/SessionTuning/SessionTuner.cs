using System.Globalization;
using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Compression.Pipeline.SessionTuning;

/// <summary>
/// Chooses the session settings that pay for one model on this CPU at batch 1, as Microsoft Olive's session-parameter
/// tuning does: short timed rounds, candidates interleaved within each round, median of the repeats. Searched one
/// setting at a time from the pool's default (intra-op threads 1..cores, then the graph optimization level; the
/// execution mode stays sequential, see Tune) so the count of candidates grows with log2(cores), not with a full grid. Each candidate is scored by
/// the median over rounds of its round median divided by the default's in the same round (load on a shared machine
/// moves both alike). The best is chosen only when it beats the default by <see cref="RequiredGain"/>; otherwise the
/// default stays, so noise never moves a model off the setting that is safe under concurrent callers.
/// </summary>
public sealed class SessionTuner(int processorCount, int rounds = SessionTuner.DefaultRounds)
{
    public const int DefaultRounds = 7;

    /// <summary>A candidate must be at least 15% faster than the default (ratio at most 0.85) to be chosen.</summary>
    public const double RequiredGain = 0.15;

    /// <summary>Intra-op thread counts tried: 1, 2, 4, ... up to the core count, and the core count itself.</summary>
    public IReadOnlyList<int> ThreadCounts()
    {
        var cores = Math.Max(1, processorCount);
        var counts = new List<int>();
        for (var t = 1; t < cores; t *= 2) counts.Add(t);
        counts.Add(cores);
        return counts;
    }

    public SessionTuningResult Tune(ISessionLatencyProbe probe)
    {
        var baseline = SessionCandidate.PoolDefault;
        var measured = new Dictionary<SessionCandidate, CandidateTiming>();
        CandidateTiming Best() => measured.Values.OrderBy(t => t.RatioToDefault).ThenBy(t => Cost(t.Candidate)).First();

        // 1. threads, 2. optimization level at the best thread count. The execution mode stays sequential: ONNX Runtime's
        // parallel executor was 0.76x the default in one tuning run of intent-bert and 60x slower (35 ms per call) in the
        // pool minutes later on the same loaded machine, and 49x slower for the synthetic-intent teacher while tuning
        // (benchmarks/RESULTS.md); a setting that unstable must not be chosen from a few seconds of timing.
        Measure(probe, baseline, ThreadCounts().Select(t => baseline with { IntraOpThreads = t }), measured);
        var threads = Best().Candidate;
        Measure(probe, baseline, [threads with { Level = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED },
                                  threads with { Level = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC }], measured);

        var best = Best();
        var chosen = best.RatioToDefault <= 1 - RequiredGain ? best.Candidate : baseline;
        return new SessionTuningResult(chosen, measured[baseline].MedianMicroseconds, measured[chosen].MedianMicroseconds,
            measured.Values.OrderBy(t => t.RatioToDefault).ToList(), processorCount, rounds);
    }

    // Ties go to the cheaper setting: fewer threads.
    private static int Cost(SessionCandidate c) => c.IntraOpThreads * 4 + c.InterOpThreads * 2 + (c.Mode == Microsoft.ML.OnnxRuntime.ExecutionMode.ORT_PARALLEL ? 1 : 0);

    private void Measure(ISessionLatencyProbe probe, SessionCandidate baseline, IEnumerable<SessionCandidate> candidates,
        Dictionary<SessionCandidate, CandidateTiming> measured)
    {
        var group = new[] { baseline }.Concat(candidates).Distinct().ToList();
        if (group.All(measured.ContainsKey)) return;
        var medians = group.Select(_ => new List<double>()).ToArray();
        var ratios = group.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            var times = group.Select(probe.MeasureRound).ToArray();
            for (var i = 0; i < group.Count; i++)
            {
                medians[i].Add(times[i]);
                ratios[i].Add(times[i] / times[0]);
            }
        }
        for (var i = 0; i < group.Count; i++)
        {
            // The default is timed in every group; its first group's figures stand for it.
            if (measured.ContainsKey(group[i])) continue;
            measured[group[i]] = new CandidateTiming(group[i], Metrics.Median(medians[i].ToArray()), Metrics.Median(ratios[i].ToArray()));
        }
    }
}

/// <summary>A candidate's median batch-1 microseconds and its paired ratio to the default (below 1 is faster).</summary>
public sealed record CandidateTiming(SessionCandidate Candidate, double MedianMicroseconds, double RatioToDefault)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Candidate}: {MedianMicroseconds:0.0} us ({RatioToDefault:0.00}x the default)");
}

/// <summary>The tuner's choice, the default's and the choice's medians, and every candidate it timed.</summary>
public sealed record SessionTuningResult(
    SessionCandidate Chosen,
    double DefaultMicroseconds,
    double ChosenMicroseconds,
    IReadOnlyList<CandidateTiming> Candidates,
    int ProcessorCount,
    int Rounds)
{
    public bool IsDefault => Chosen == SessionCandidate.PoolDefault;
}
