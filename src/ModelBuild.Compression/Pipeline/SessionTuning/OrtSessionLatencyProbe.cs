using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
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
    private readonly Dictionary<SessionCandidate, TimedSession> _sessions = [];

    public int RunsPerRound { get; private set; }

    /// <summary>The fastest of three warm runs of <paramref name="candidate"/> (sizes the rounds; the tuner's round count for slow models).</summary>
    public double SingleRunMicroseconds(SessionCandidate candidate)
    {
        if (!_sessions.TryGetValue(candidate, out var session))
        {
            session = new TimedSession(modelPath, sample, candidate);
            _sessions[candidate] = session;
        }
        return session.Time(3).Min();
    }

    public double MeasureRound(SessionCandidate candidate)
    {
        if (!_sessions.TryGetValue(candidate, out var session))
        {
            session = new TimedSession(modelPath, sample, candidate);
            _sessions[candidate] = session;
        }
        if (RunsPerRound == 0)
        {
            var one = session.Time(3).Min();
            RunsPerRound = (int)Math.Clamp(roundBudget.TotalMicroseconds / Math.Max(one, 1), 1, 200);
        }
        return Metrics.Median(session.Time(RunsPerRound));
    }

    public void Dispose()
    {
        foreach (var s in _sessions.Values) s.Dispose();
        _sessions.Clear();
    }

    private sealed class TimedSession : IDisposable
    {
        private readonly ModelRunner _runner;
        private readonly RunOptions _runOptions = new();
        private readonly OrtValue[] _inputs;
        private readonly OrtValue[] _outputs;
        private readonly string[] _inputNames;
        private readonly string[] _outputNames;

        public TimedSession(string path, InputSet data, SessionCandidate candidate)
        {
            using (var options = candidate.CreateOptions()) _runner = new ModelRunner(path, options);
            var bound = _runner.Bind(data, "timing data");
            _inputNames = _runner.InputNames.ToArray();
            _inputs = _runner.CreateInputs(bound, 0, Math.Min(_runner.BatchSize(1), bound.Count));
            _outputNames = _runner.OutputNames.Where(n => _runner.Session.OutputMetadata[n].IsTensor).ToArray();
            using var first = _runner.Session.Run(_runOptions, _inputNames, _inputs, _outputNames);
            _outputs = first.Select(v =>
            {
                var info = v.GetTensorTypeAndShape();
                return OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, info.ElementDataType, info.Shape);
            }).ToArray();
            Time(5);
        }

        public double[] Time(int runs)
        {
            var times = new double[runs];
            for (var i = 0; i < runs; i++)
            {
                var start = Stopwatch.GetTimestamp();
                _runner.Session.Run(_runOptions, _inputNames, _inputs, _outputNames, _outputs);
                times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }
            return times;
        }

        public void Dispose()
        {
            foreach (var v in _inputs) v.Dispose();
            foreach (var v in _outputs) v.Dispose();
            _runOptions.Dispose();
            _runner.Dispose();
        }
    }
}
