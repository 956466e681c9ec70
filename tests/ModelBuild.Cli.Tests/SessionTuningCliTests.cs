using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Runtime;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// `--tune-session auto|off` end to end: the chosen settings go to &lt;output&gt;.session.json and the report, the model's
/// bytes are the same with and without tuning (the timing-based choice stays out of the content-addressed model), the
/// runtime reads what the CLI wrote, and a sidecar that cannot be written is warning MB0250, not a failed build.
/// Which settings win is not asserted: that is a timing on a shared machine (the choice rule is SessionTunerTests').
/// </summary>
public class SessionTuningCliTests
{
    private static string Temp() => Directory.CreateTempSubdirectory("mb-cli-session-").FullName;

    private static (int Exit, string Stdout, string Stderr) Compress(string output, params string[] more) =>
        CliProcess.Run(["compress", TestPaths.Wine("teacher.onnx"), "-o", output, "--quantize", "int8-weights", "--force", "--latency-runs", "50", "--seed", "3", .. more]);

    [Fact]
    public void Auto_writes_the_sidecar_and_the_report_leaves_the_model_bytes_alone_and_the_runtime_reads_it()
    {
        var dir = Temp();
        var tuned = Path.Combine(dir, "tuned.onnx");
        var plain = Path.Combine(dir, "plain.onnx");
        var report = Path.Combine(dir, "r.json");

        var (exit, stdout, stderr) = Compress(tuned, "--report", report);
        Assert.True(exit == 0, stdout + stderr);
        var (exitOff, stdoutOff, stderrOff) = Compress(plain, "--tune-session", "off");
        Assert.True(exitOff == 0, stdoutOff + stderrOff);

        Assert.Equal(File.ReadAllBytes(plain), File.ReadAllBytes(tuned));
        Assert.False(File.Exists(plain + ".session.json"));
        var sidecar = JsonNode.Parse(File.ReadAllText(tuned + ".session.json"))!;
        Assert.Equal("modelbuild.session/1", (string?)sidecar["format"]);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(tuned))), (string?)sidecar["modelSha256"]);
        Assert.Equal(Environment.ProcessorCount, (int?)sidecar["measured"]!["processorCount"]);
        Assert.True(sidecar["measured"]!["candidates"]!.AsArray().Count >= 3);

        var recorded = RecordedSessionSettings.ReadSidecar(tuned)!;
        Assert.Equal((int?)sidecar["intraOpThreads"], recorded.IntraOpNumThreads);
        Assert.Equal((string?)sidecar["graphOptimizationLevel"], RecordedSessionSettings.LevelName(recorded.GraphOptimizationLevel));
        Assert.Equal((string?)sidecar["modelSha256"], recorded.ModelSha256);

        var parsed = CompressionReport.FromJson(File.ReadAllText(report));
        Assert.Equal((int?)sidecar["intraOpThreads"], (int?)parsed.Session!["intraOpThreads"]);
        Assert.Contains("session:", stdout);
        Assert.Contains("Session settings for the runtime pool", File.ReadAllText(Path.ChangeExtension(report, ".md")));
    }

    [Fact]
    public void Off_removes_a_sidecar_left_from_an_earlier_run()
    {
        var dir = Temp();
        var output = Path.Combine(dir, "out.onnx");
        File.WriteAllText(output + ".session.json", """{ "intraOpThreads": 2 }""");
        var (exit, stdout, stderr) = Compress(output, "--tune-session", "off");
        Assert.True(exit == 0, stdout + stderr);
        Assert.False(File.Exists(output + ".session.json"));
    }

    [Fact]
    public void A_sidecar_that_cannot_be_written_is_warning_MB0250_and_the_model_is_written()
    {
        var dir = Temp();
        var output = Path.Combine(dir, "out.onnx");
        Directory.CreateDirectory(output + ".session.json"); // a folder in the way of the file
        var (exit, stdout, stderr) = Compress(output);
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("MB0250", stdout + stderr);
        Assert.Contains(output + ".session.json", stdout + stderr);
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void An_unknown_tune_session_word_is_MB0517_exit_2()
    {
        var dir = Temp();
        var (exit, stdout, stderr) = Compress(Path.Combine(dir, "out.onnx"), "--tune-session", "sometimes");
        Assert.Equal(2, exit);
        Assert.Contains("MB0517", stdout + stderr);
        Assert.Contains("--tune-session", stdout + stderr);
    }
}
