using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Pipeline.SessionTuning;

namespace ModelBuild.Compression.Tests.SessionTuning;

/// <summary>
/// The tuner's choice from measurements it is given: a fake probe returns fixed microseconds per candidate (times a
/// per-round load factor), so these tests check the search and the decision rule, never a timing.
/// </summary>
public class SessionTunerTests
{
    /// <summary>Figures per candidate; anything not listed takes the default's time. Rounds can carry a load factor.</summary>
    private sealed class FakeProbe(Func<SessionCandidate, double> microseconds, double[]? roundLoad = null) : ISessionLatencyProbe
    {
        private readonly Dictionary<SessionCandidate, int> _calls = [];
        public List<SessionCandidate> Measured { get; } = [];

        public double MeasureRound(SessionCandidate candidate)
        {
            var round = _calls.TryGetValue(candidate, out var n) ? n : 0;
            _calls[candidate] = round + 1;
            Measured.Add(candidate);
            return microseconds(candidate) * (roundLoad is null ? 1 : roundLoad[round % roundLoad.Length]);
        }
    }

    private static readonly SessionCandidate Default = SessionCandidate.PoolDefault;

    [Theory]
    [InlineData(1, new[] { 1 })]
    [InlineData(2, new[] { 1, 2 })]
    [InlineData(6, new[] { 1, 2, 4, 6 })]
    [InlineData(16, new[] { 1, 2, 4, 8, 16 })]
    public void Thread_counts_are_powers_of_two_up_to_the_cores_and_the_cores(int cores, int[] expected) =>
        Assert.Equal(expected, new SessionTuner(cores).ThreadCounts());

    [Fact]
    public void Two_threads_that_are_1_5x_faster_are_chosen()
    {
        var probe = new FakeProbe(c => c.IntraOpThreads == 2 && c.Level == GraphOptimizationLevel.ORT_ENABLE_ALL && c.Mode == ExecutionMode.ORT_SEQUENTIAL ? 60 : 90);
        var result = new SessionTuner(2).Tune(probe);

        Assert.Equal(Default with { IntraOpThreads = 2 }, result.Chosen);
        Assert.Equal(90, result.DefaultMicroseconds);
        Assert.Equal(60, result.ChosenMicroseconds);
        Assert.False(result.IsDefault);
        // Threads first, then the two other levels at 2 threads: 4 candidates, default included; never parallel execution.
        Assert.Equal(4, result.Candidates.Count);
        Assert.Contains(result.Candidates, c => c.Candidate == Default with { IntraOpThreads = 2, Level = GraphOptimizationLevel.ORT_ENABLE_BASIC });
        Assert.DoesNotContain(probe.Measured, c => c.Mode == ExecutionMode.ORT_PARALLEL);
    }

    [Fact]
    public void A_gain_under_the_required_margin_keeps_the_default()
    {
        // 2 threads are 10% faster: within what noise gives, so the default (safe under concurrent callers) stays.
        var probe = new FakeProbe(c => c.IntraOpThreads == 2 ? 90 : 100);
        var result = new SessionTuner(2).Tune(probe);

        Assert.Equal(Default, result.Chosen);
        Assert.True(result.IsDefault);
        Assert.Equal(0.9, result.Candidates[0].RatioToDefault, 6);
    }

    [Fact]
    public void Each_setting_is_searched_from_the_best_of_the_one_before()
    {
        // 4 threads best among thread counts; at 4 threads the extended level is better still; parallel is slower.
        var probe = new FakeProbe(c => (c.IntraOpThreads, c.Level, c.Mode) switch
        {
            (4, GraphOptimizationLevel.ORT_ENABLE_EXTENDED, ExecutionMode.ORT_SEQUENTIAL) => 40,
            (4, _, ExecutionMode.ORT_SEQUENTIAL) => 50,
            (2, _, _) => 70,
            (_, _, ExecutionMode.ORT_PARALLEL) => 200,
            _ => 100,
        });
        var result = new SessionTuner(6).Tune(probe);

        Assert.Equal(Default with { IntraOpThreads = 4, Level = GraphOptimizationLevel.ORT_ENABLE_EXTENDED }, result.Chosen);
        Assert.DoesNotContain(probe.Measured, c => c.IntraOpThreads == 2 && c.Level != GraphOptimizationLevel.ORT_ENABLE_ALL);
    }

    [Fact]
    public void Load_that_moves_whole_rounds_does_not_change_the_choice()
    {
        // Every candidate of a round is slowed alike (another job on the machine): paired ratios are unchanged.
        var load = new[] { 1.0, 3.0, 1.2, 5.0, 1.0, 2.0, 1.1 };
        var probe = new FakeProbe(c => c.IntraOpThreads == 2 && c.Mode == ExecutionMode.ORT_SEQUENTIAL && c.Level == GraphOptimizationLevel.ORT_ENABLE_ALL ? 60 : 90, load);
        var result = new SessionTuner(2).Tune(probe);

        Assert.Equal(Default with { IntraOpThreads = 2 }, result.Chosen);
        Assert.Equal(2.0 / 3, result.Candidates[0].RatioToDefault, 6);
    }

    [Fact]
    public void One_core_tries_no_extra_threads()
    {
        var probe = new FakeProbe(_ => 100);
        var result = new SessionTuner(1).Tune(probe);

        Assert.Equal(Default, result.Chosen);
        Assert.All(probe.Measured, c => Assert.Equal(1, c.IntraOpThreads));
        Assert.DoesNotContain(probe.Measured, c => c.Mode == ExecutionMode.ORT_PARALLEL);
        Assert.Equal(3, result.Candidates.Count); // all, extended, basic
    }

    [Fact]
    public void The_sidecar_json_carries_the_choice_and_every_candidate()
    {
        var result = new SessionTuner(2).Tune(new FakeProbe(c => c.IntraOpThreads == 2 && c.Mode == ExecutionMode.ORT_SEQUENTIAL && c.Level == GraphOptimizationLevel.ORT_ENABLE_ALL ? 50 : 100));
        var json = SessionSettingsSidecar.ToJson(result, "abc");

        Assert.Equal("modelbuild.session/1", (string?)json["format"]);
        Assert.Equal("abc", (string?)json["modelSha256"]);
        Assert.Equal(2, (int?)json["intraOpThreads"]);
        Assert.Equal("all", (string?)json["graphOptimizationLevel"]);
        Assert.Equal("sequential", (string?)json["executionMode"]);
        Assert.Equal(result.Candidates.Count, json["measured"]!["candidates"]!.AsArray().Count);
        Assert.Null(SessionSettingsSidecar.ToJson(result, null)["modelSha256"]);
    }
}
