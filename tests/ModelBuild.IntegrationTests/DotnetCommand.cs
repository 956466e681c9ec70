using System.Diagnostics;
using System.Text;

namespace ModelBuild.IntegrationTests;

/// <summary>Runs the dotnet CLI the way a developer does, in a clean environment, and keeps everything it printed.</summary>
internal static class DotnetCommand
{
    public sealed record Result(int ExitCode, string Output, TimeSpan Elapsed)
    {
        public bool Succeeded => ExitCode == 0;
        public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:0.0} s\n{Output}";
    }

    public static Result Run(string workingDirectory, params string[] arguments) => Start(workingDirectory, arguments).Wait();

    public static Running Start(string workingDirectory, params string[] arguments) => Start(workingDirectory, null, arguments);

    /// <summary>With extra environment variables (null removes one): how the remote cache tests hand over credentials.</summary>
    public static Running Start(string workingDirectory, IReadOnlyDictionary<string, string?>? environment, params string[] arguments)
    {
        // Through `env --default-signal=INT`: a test host may run with SIGINT ignored, and an ignored signal stays
        // ignored across exec; dotnet must see Ctrl+C (Interrupt) as a terminal would deliver it.
        var start = new ProcessStartInfo("env")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // `dotnet test` leaves MSBuild's own variables in this process; a nested build must not inherit them.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // No MSBuild node outlives the test (it would keep the task assembly loaded and use memory).
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) start.Environment.Remove(name);
            else start.Environment[name] = value;
        }
        return new Running(Process.Start(start)!);
    }

    public sealed class Running
    {
        private readonly Process process;
        private readonly StringBuilder output = new();
        private readonly Stopwatch clock = Stopwatch.StartNew();

        public Running(Process process)
        {
            this.process = process;
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(ModelBuild.TestSupport.ProducedCodes.Observe(e.Data)); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(ModelBuild.TestSupport.ProducedCodes.Observe(e.Data)); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        /// <summary>Waits until the output contains <paramref name="text"/>; false if the process ended without printing it or time ran out first.</summary>
        public bool WaitForOutput(string text, TimeSpan timeout)
        {
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < timeout)
            {
                lock (output) if (output.ToString().Contains(text, StringComparison.Ordinal)) return true;
                if (process.HasExited)
                {
                    // Lines still in the pipe when the process ended arrive after HasExited; the parameterless
                    // WaitForExit waits for them (a loaded machine once delivered "starting worker" only after exit).
                    process.WaitForExit();
                    lock (output) return output.ToString().Contains(text, StringComparison.Ordinal);
                }
                Thread.Sleep(50);
            }
            return false;
        }

        /// <summary>Everything printed so far.</summary>
        public string OutputSoFar
        {
            get { lock (output) return output.ToString(); }
        }

        public bool HasExited => process.HasExited;

        /// <summary>Sends SIGINT to the dotnet process alone (env exec'd it, same pid): what Ctrl+C does to `dotnet build`.</summary>
        public void Interrupt()
        {
            using var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            kill.WaitForExit();
        }

        public Result Wait() => Wait(TimeSpan.FromMinutes(5));

        /// <summary>Waits up to <paramref name="timeout"/> (a build that trains a model needs more than the usual 5 minutes).</summary>
        public Result Wait(TimeSpan timeout)
        {
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"dotnet did not finish in {timeout.TotalMinutes:0} minutes:\n" + output);
            }
            process.WaitForExit();
            lock (output) return new Result(process.ExitCode, output.ToString(), clock.Elapsed);
        }
    }
}
