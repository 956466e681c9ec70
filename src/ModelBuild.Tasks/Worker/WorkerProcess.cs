using System.Collections.Concurrent;
using System.Diagnostics;

namespace ModelBuild.Tasks.Worker;

/// <summary>
/// Runs the worker as its own process (never in the MSBuild node: libtorch and ONNX Runtime load there, and a crash
/// must not take the build server down), keeps its whole output in a log file, hands each line to the caller on the
/// calling thread (MSBuild logging belongs to the task's thread), and kills the whole process tree on cancellation.
/// </summary>
internal sealed class WorkerProcess
{
    public required string FileName { get; init; }
    public required IReadOnlyList<string> Arguments { get; init; }
    public required string LogFile { get; init; }
    public IDictionary<string, string?> Environment { get; init; } = new Dictionary<string, string?>();
    /// <summary>Called once the process runs and <see cref="LogFile"/> exists (holding the command line), so a message
    /// that points at the log never names a file that is not there yet.</summary>
    public Action? Started { get; init; }
    /// <summary>Applied to every line before it is logged or handed on: removes secrets (a SAS, a key) a line might quote.</summary>
    public Func<string, string> Redact { get; init; } = line => line;

    /// <summary>Runs to the end and returns the exit code; null when it was cancelled (the process tree is then killed).</summary>
    public int? Run(Action<string, bool> onLine, CancellationToken cancellation)
    {
        var start = new ProcessStartInfo(FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var argument in Arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in Environment) start.Environment[name] = value;

        Directory.CreateDirectory(Path.GetDirectoryName(LogFile)!);
        using var log = new StreamWriter(LogFile, append: false) { AutoFlush = true };
        log.WriteLine($"# {FileName} {string.Join(" ", Arguments.Select(Quote))}");

        using var lines = new BlockingCollection<(string Line, bool IsError)>();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Add((e.Data, false)); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lines.Add((e.Data, true)); };
        process.Start();
        Started?.Invoke();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var killed = false;
        using (cancellation.Register(() =>
        {
            killed = true;
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }
        }))
        {
            void Drain(int waitMilliseconds)
            {
                while (lines.TryTake(out var item, waitMilliseconds))
                {
                    item = (Redact(item.Line), item.IsError);
                    log.WriteLine(item.IsError ? "stderr: " + item.Line : item.Line);
                    onLine(item.Line, item.IsError);
                    waitMilliseconds = 0;
                }
            }
            while (!process.WaitForExit(50)) Drain(0);
            process.WaitForExit(); // Waits for the redirected streams to reach their end.
            Drain(0);
        }
        var cancelled = killed || cancellation.IsCancellationRequested;
        log.WriteLine(cancelled ? "# cancelled: worker process tree killed" : $"# exit code {process.ExitCode}");
        return cancelled ? null : process.ExitCode;
    }

    private static string Quote(string argument) => argument.Contains(' ') ? $"\"{argument}\"" : argument;
}
