using System.Collections.Concurrent;
using System.Globalization;
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

/// <summary>Runs one case in the case process and classifies how it ended (the time limit is the test's: it kills this process).</summary>
internal static class CampaignCase
{
    /// <summary>
    /// <paramref name="run"/> returns normally (success), throws a <see cref="ModelBuildException"/> (a user error: its
    /// code), or anything else (unexpected).
    /// </summary>
    public static (Outcome Outcome, string Detail) Run(Action run)
    {
        try
        {
            run();
            return (Outcome.Success, "");
        }
        catch (ModelBuildException mb)
        {
            return (mb.ExitCode == 1 ? Outcome.GateFailed : Outcome.UserError, mb.Code);
        }
        catch (Exception e)
        {
            return (Outcome.Unexpected, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}\n{e.StackTrace}");
        }
    }
}

/// <summary>
/// Runs the cases in a separate process (this test assembly, started with <c>dotnet exec</c>: see <see cref="Program"/>),
/// one kind at a time; the process reports each case on a line as it ends. A case that reports nothing within
/// <see cref="Timeout"/> is a hang: the process is killed (with everything it started), the case counted as a hang
/// (a failure) and its folder kept, and a new process goes on with the next case. A process that dies without a
/// report (a native crash, an exit from inside a case) fails its case as unexpected the same way.
/// </summary>
internal static class CaseProcess
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Loading ONNX Runtime and writing the materials before the first case, on a loaded machine.</summary>
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromMinutes(5);

    private const string Ready = "ready";

    /// <summary>The kind number of a probe whose case 1 of 3 never returns: the test that the limit really kills.</summary>
    public const int HangProbe = -1;

    public static void RunKind(Tally tally, string root, ulong seed, double scale, int kindIndex, string kind, int count) =>
        RunKind(tally, root, seed, scale, kindIndex, kind, count, Timeout);

    public static void RunKind(Tally tally, string root, ulong seed, double scale, int kindIndex, string kind, int count, TimeSpan timeout)
    {
        var next = 0;
        while (next < count)
        {
            var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { "exec", typeof(CaseProcess).Assembly.Location, "campaign", root,
                         kindIndex.ToString(CultureInfo.InvariantCulture), next.ToString(CultureInfo.InvariantCulture) })
                start.ArgumentList.Add(a);
            start.Environment["MODELBUILD_BADINPUT_SEED"] = seed.ToString(CultureInfo.InvariantCulture);
            start.Environment["MODELBUILD_BADINPUT_SCALE"] = scale.ToString(CultureInfo.InvariantCulture);
            using var process = System.Diagnostics.Process.Start(start)!;
            var lines = new System.Collections.Concurrent.BlockingCollection<string>();
            var stderr = new System.Text.StringBuilder();
            process.OutputDataReceived += (_, e) => { if (e.Data is null) lines.CompleteAdding(); else lines.Add(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var ready = false;
            while (true)
            {
                var got = lines.TryTake(out var line, ready ? timeout : StartupTimeout);
                if (got && line == Ready) { ready = true; continue; }
                if (got && line!.StartsWith("case\t", StringComparison.Ordinal))
                {
                    var parts = line.Split('\t', 4);
                    var number = int.Parse(parts[1], CultureInfo.InvariantCulture);
                    tally.Add(kind, Enum.Parse<Outcome>(parts[2]), parts[3].Replace("\\n", "\n", StringComparison.Ordinal), $"seed {seed} case {number}");
                    next = number + 1;
                    continue;
                }
                if (got) continue; // anything else the product printed
                // Silence: the output ended (the process is ending), or nothing came in time (a hang).
                var hung = !lines.IsCompleted || !process.WaitForExit(timeout);
                if (hung) process.Kill(entireProcessTree: true);
                process.WaitForExit();
                if (next >= count && !hung) break;
                if (!ready && !hung)
                    throw new InvalidOperationException($"the case process for '{kind}' ended before its first case (exit {process.ExitCode}): {stderr}");
                var caseDir = Path.Combine(root, "case");
                if (Directory.Exists(caseDir)) Directory.Move(caseDir, Path.Combine(root, $"{(hung ? "hung" : "crashed")}-{kindIndex}-{next}"));
                tally.Add(kind, hung ? Outcome.Hang : Outcome.Unexpected,
                    hung ? $"no result after {timeout.TotalSeconds} s: the case process was killed" : $"the case process died (exit {process.ExitCode}): {stderr.ToString().Split('\n')[0]}",
                    $"seed {seed} case {next}");
                next++;
                break;
            }
        }
    }

    /// <summary>One case's line: <c>case TAB number TAB outcome TAB detail</c> (newlines escaped), flushed at once.</summary>
    public static void Report(TextWriter report, int number, Outcome outcome, string detail)
    {
        report.WriteLine($"case\t{number.ToString(CultureInfo.InvariantCulture)}\t{outcome}\t{detail.Replace("\t", " ", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}");
        report.Flush();
    }

    /// <summary>In the case process: writes the materials, says ready, runs the kind's cases from <paramref name="first"/> on.</summary>
    public static int Serve(string root, int kindIndex, int first)
    {
        var report = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        var number = first;
        var kinds = kindIndex == HangProbe
            ? [("hang probe", 3, (_, _) => number++ == 1 ? () => Thread.Sleep(System.Threading.Timeout.Infinite) : () => { })]
            : BadInputCampaignTests.Kinds(root);
        if (kindIndex == HangProbe) kindIndex = 0;
        report.WriteLine(Ready);
        var (name, count, make) = kinds[kindIndex];
        // The CLI cases print to the console: keep only this process's own report on stdout.
        Console.SetOut(TextWriter.Null);
        BadInputCampaignTests.Kind(report, root, BadInputCampaignTests.CampaignSeed, name, first, count, make);
        return 0;
    }
}

/// <summary>The case process's entry point (the test SDK's generated one is turned off in the project file).</summary>
public static class Program
{
    public static int Main(string[] args) =>
        args.Length == 4 && args[0] == "campaign"
            ? CaseProcess.Serve(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture))
            : 64;
}
