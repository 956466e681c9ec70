using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelBuild.Cli.Commands;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Cli.Tests;

/// <summary>--help with examples, --json on every command that prints figures, terminal progress vs worker lines.</summary>
public class CliExperienceTests
{
    public static TheoryData<string> CommandNames() => new(CommandCatalog.All().Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CommandNames))]
    public void Help_shows_examples_and_describes_every_option(string name)
    {
        var output = new StringWriter();
        var exit = CommandCatalog.CreateRoot().Parse([name, "--help"]).Invoke(new InvocationConfiguration { Output = output, Error = new StringWriter() });
        Assert.Equal(0, exit);
        var help = output.ToString();
        Assert.Contains("Examples:", help);
        Assert.Contains($"modelbuild {name}", help[help.IndexOf("Examples:", StringComparison.Ordinal)..]);
        var command = CommandCatalog.All().Single(c => c.Name == name);
        Assert.All(command.Options, o => Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{name} {o.Name} has no description"));
        Assert.All(command.Arguments, a => Assert.False(string.IsNullOrWhiteSpace(a.Description), $"{name} <{a.Name}> has no description"));
    }

    [Fact]
    public void Root_help_lists_the_commands_with_examples()
    {
        var output = new StringWriter();
        CommandCatalog.CreateRoot().Parse(["--help"]).Invoke(new InvocationConfiguration { Output = output });
        foreach (var c in CommandCatalog.All()) Assert.Contains($"modelbuild {c.Name}", output.ToString());
    }

    [Fact]
    public void Redirected_output_is_worker_protocol_lines_only()
    {
        var dir = Directory.CreateTempSubdirectory("mb-cli-test-").FullName;
        var (exit, stdout, stderr) = CliProcess.Run("compress", TestPaths.Wine("teacher.onnx"), "-o", Path.Combine(dir, "o.onnx"),
            "--quantize", "int8-weights", "--eval-data", TestPaths.Wine("test_x.npy"), "--eval-labels", TestPaths.Wine("test_y.npy"), "--latency-runs", "50");
        Assert.True(exit == 0, stdout + stderr);
        Assert.DoesNotContain('\u001b', stdout);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.True(WorkerProtocol.TryParse(l.TrimEnd('\r'), out _, out _, out _), $"not a worker line: {l}"));
        Assert.Contains(lines, l => l.StartsWith("##modelbuild[stage] quantize ", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void A_terminal_gets_live_progress_and_no_worker_lines()
    {
        // util-linux's script(1) gives the process a pseudo-terminal, as a person's shell does.
        var script = new[] { "/usr/bin/script", "/bin/script" }.FirstOrDefault(File.Exists);
        Skip.If(script is null, "script(1) from util-linux is not installed; it provides the pseudo-terminal for this test.");
        var dir = Directory.CreateTempSubdirectory("mb-cli-test-").FullName;
        var cli = Path.Combine(AppContext.BaseDirectory, "modelbuild.dll");
        var command = string.Join(' ', new[] { "dotnet", cli, "compress", TestPaths.Wine("teacher.onnx"), "-o", Path.Combine(dir, "o.onnx"),
            "--quantize", "int8-weights", "--eval-data", TestPaths.Wine("test_x.npy"), "--eval-labels", TestPaths.Wine("test_y.npy"),
            "--latency-runs", "50", "--report", Path.Combine(dir, "r.json") }.Select(a => "'" + a + "'"));
        var start = new ProcessStartInfo(script!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-q", "-e", "-c", command, "/dev/null" }) start.ArgumentList.Add(a);
        start.Environment["TERM"] = "xterm-256color";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "compress under script(1) did not finish");
        var text = ModelBuild.TestSupport.ProducedCodes.Observe(stdout.Result)!;
        Assert.True(process.ExitCode == 0, text + stderr.Result);
        Assert.DoesNotContain("##modelbuild[", text);
        Assert.Contains('\u001b', text); // styled by Spectre.Console
        Assert.Contains("quantize", text);
        Assert.Contains("result", text);
        Assert.True(File.Exists(Path.Combine(dir, "r.html")));
    }

    [Fact]
    public void Json_output_of_compress_eval_and_bench_parses()
    {
        var dir = Directory.CreateTempSubdirectory("mb-cli-test-").FullName;
        var (exit, stdout, stderr) = CliProcess.Run("compress", TestPaths.Wine("teacher.onnx"), "-o", Path.Combine(dir, "o.onnx"),
            "--quantize", "int8-weights", "--eval-data", TestPaths.Wine("test_x.npy"), "--eval-labels", TestPaths.Wine("test_y.npy"),
            "--latency-runs", "0", "--json");
        Assert.True(exit == 0, stdout + stderr);
        var report = CompressionReport.FromJson(stdout);
        Assert.Equal(Path.GetFullPath(Path.Combine(dir, "o.onnx")), report.Result.Path);
        Assert.Equal(new FileInfo(Path.Combine(dir, "o.onnx")).Length, report.Result.Bytes);
        Assert.Contains("##modelbuild[stage] quantize", stderr);

        // A bad input with --json: stdout stays empty (no half document), the error line goes to stderr.
        (exit, stdout, stderr) = CliProcess.Run("compress", Path.Combine(dir, "missing.onnx"), "-o", Path.Combine(dir, "x.onnx"), "--json");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout.Trim());
        Assert.Contains("##modelbuild[error MB0001]", stderr);

        (exit, stdout, stderr) = CliProcess.Run("eval", TestPaths.Wine("student_kd.onnx"), "--data", TestPaths.Wine("test_x.npy"),
            "--labels", TestPaths.Wine("test_y.npy"), "--reference", TestPaths.Wine("teacher.onnx"), "--latency-runs", "50", "--json");
        Assert.True(exit == 0, stdout + stderr);
        var eval = JsonNode.Parse(stdout)!.AsObject();
        Assert.InRange(eval["accuracy"]!.GetValue<double>(), 0, 100);
        Assert.InRange(eval["agreement"]!.GetValue<double>(), 0, 100);
        Assert.True(eval["samples"]!.GetValue<int>() > 0);
        Assert.NotEmpty(eval["sqnrDb"]!.AsObject());
        Assert.True(eval["latencyMicroseconds"]!.GetValue<double>() > 0);

        (exit, stdout, stderr) = CliProcess.Run("bench", TestPaths.Wine("student_kd.onnx"), "--baseline", TestPaths.Wine("teacher.onnx"), "--runs", "100", "--json");
        Assert.True(exit == 0, stdout + stderr);
        var bench = JsonNode.Parse(stdout)!.AsObject();
        var model = bench["model"]!["latencyMicroseconds"]!.GetValue<double>();
        var baseline = bench["baseline"]!["latencyMicroseconds"]!.GetValue<double>();
        Assert.Equal(model / baseline, bench["ratio"]!.GetValue<double>(), 9);
        Assert.Equal(1, bench["batch"]!.GetValue<int>());
    }
}
