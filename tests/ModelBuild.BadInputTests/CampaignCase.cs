using System.Collections.Concurrent;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.BadInputTests;

/// <summary>How one generated input ended.</summary>
internal enum Outcome { Success, GateFailed, UserError, Unexpected, Hang, Leftover }

/// <summary>
/// Counts outcomes per input kind and keeps every unexpected one (exception or exit 3, hang, leftover file) with the
/// seed and case number that reproduce it.
/// </summary>
internal sealed class Tally
{
    private readonly ConcurrentDictionary<(string Kind, string Result), int> _counts = new();
    public ConcurrentQueue<string> Problems { get; } = new();
    public int Total => _counts.Values.Sum();

    public void Add(string kind, Outcome outcome, string detail, string reproduce)
    {
        var result = outcome switch
        {
            Outcome.Success => "ok",
            Outcome.GateFailed => "exit 1",
            Outcome.UserError => detail,
            _ => outcome.ToString().ToLowerInvariant(),
        };
        _counts.AddOrUpdate((kind, result), 1, (_, n) => n + 1);
        if (outcome is Outcome.Unexpected or Outcome.Hang or Outcome.Leftover) Problems.Enqueue($"{kind} {reproduce}: {outcome}: {detail}");
    }

    public int Count(Outcome outcome) => outcome switch
    {
        Outcome.Success => _counts.Where(c => c.Key.Result == "ok").Sum(c => c.Value),
        Outcome.GateFailed => _counts.Where(c => c.Key.Result == "exit 1").Sum(c => c.Value),
        Outcome.UserError => _counts.Where(c => c.Key.Result.StartsWith("MB", StringComparison.Ordinal)).Sum(c => c.Value),
        _ => _counts.Where(c => c.Key.Result == outcome.ToString().ToLowerInvariant()).Sum(c => c.Value),
    };

    /// <summary>One line per kind: total, then each result with its count (codes sorted).</summary>
    public IEnumerable<string> Lines() => _counts.GroupBy(c => c.Key.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        $"{g.Key}: {g.Sum(c => c.Value)} inputs; " + string.Join(", ", g.OrderBy(c => c.Key.Result, StringComparer.Ordinal).Select(c => $"{c.Key.Result} {c.Value}")));
}

/// <summary>Runs one in-process case with a time limit and classifies how it ended.</summary>
internal static class CampaignCase
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// <paramref name="run"/> returns normally (success), throws a <see cref="ModelBuildException"/> (a user error: its
    /// code), or anything else (unexpected). A case that outlives <see cref="Timeout"/> is a hang.
    /// </summary>
    public static (Outcome Outcome, string Detail) Run(Action run)
    {
        var task = Task.Factory.StartNew(run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            if (!task.Wait(Timeout)) return (Outcome.Hang, $"still running after {Timeout.TotalSeconds} s");
            return (Outcome.Success, "");
        }
        catch (AggregateException e) when (e.InnerException is ModelBuildException mb)
        {
            return (mb.ExitCode == 1 ? Outcome.GateFailed : Outcome.UserError, mb.Code);
        }
        catch (AggregateException e)
        {
            var inner = e.InnerException ?? e;
            return (Outcome.Unexpected, $"{inner.GetType().Name}: {inner.Message.Split('\n')[0]}\n{inner.StackTrace}");
        }
    }
}
