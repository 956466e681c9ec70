using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Compression.Pipeline.SessionTuning;

/// <summary>
/// Times candidates on ONNX Runtime: one session per candidate (created on first use, warmed up), one sample at batch 1
/// with input and output OrtValues allocated once, as the runtime pool calls it. A round is
/// <see cref="RunsPerRound"/> runs, sized from the default's run time so that a round takes about
/// <paramref name="roundBudget"/> (at least 1 run, at most 200).
/// </summary>
public sealed class OrtSessionLatencyProbe(string modelPath, InputSet sample, TimeSpan roundBudget) : ISessionLatencyProbe, IDisposable
{
    private readonly Dictionary<SessionCandidate, TimedRun> _sessions = [];

    public int RunsPerRound { get; private set; }

    /// <summary>The fastest of three warm runs of <paramref name="candidate"/> (sizes the rounds; the tuner's round count for slow models).</summary>
    public double SingleRunMicroseconds(SessionCandidate candidate)
    {
        return Session(candidate).Time(3).Min();
    }

    public double MeasureRound(SessionCandidate candidate)
    {
        var session = Session(candidate);
        if (RunsPerRound == 0)
        {
            var one = session.Time(3).Min();
            RunsPerRound = (int)Math.Clamp(roundBudget.TotalMicroseconds / Math.Max(one, 1), 1, 200);
        }
        return Metrics.Median(session.Time(RunsPerRound));
    }

    /// <summary>The candidate's session: on first use opened over its options and warmed up with five runs.</summary>
    private TimedRun Session(SessionCandidate candidate)
    {
        if (_sessions.TryGetValue(candidate, out var open)) return open;
        ModelRunner runner;
        using (var options = candidate.CreateOptions()) runner = new ModelRunner(modelPath, options);
        var run = new TimedRun(runner, sample);
        run.Warmup(5);
        _sessions[candidate] = run;
        return run;
    }

    public void Dispose()
    {
        foreach (var s in _sessions.Values) s.Dispose();
        _sessions.Clear();
    }
}
