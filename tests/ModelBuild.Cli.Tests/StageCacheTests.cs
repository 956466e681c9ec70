using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// The per-stage cache through the real CLI: a second run that changes only the quantization settings takes the
/// distilled and pruned models from the cache and runs only quantization; plus the pipeline's MB0515-MB0517.
/// </summary>
public class StageCacheTests
{
    internal static readonly string Shared = TestPaths.Shared;
    internal static string Teacher(string name, string file) => Path.Combine(Shared, "teachers", name, file);
    private static string Wine(string file) => Teacher("wine-mlp", file);

    internal static (int Exit, string Stdout, string Stderr) Run(params string[] args) => CliProcess.Run(args);

    internal static string Temp() => Directory.CreateTempSubdirectory("mb-cli-stages-").FullName;

    private static string[] DistillPruneQuantize(string dir, string output, string quantize) =>
    [
        "compress", Wine("teacher.onnx"), "-o", Path.Combine(dir, output), "--report", Path.Combine(dir, output + ".json"),
        "--distill", "--student", Wine("student_scratch.onnx"), "--reinitialize",
        "--train-data", Wine("train_x.npy"), "--train-labels", Wine("train_y.npy"), "--epochs", "20",
        "--prune", "0.5", "--quantize", quantize, "--force",
        "--eval-data", Wine("test_x.npy"), "--eval-labels", Wine("test_y.npy"),
        "--stage-cache", Path.Combine(dir, "stages"), "--latency-runs", "100", "--threads", "1",
    ];

    [Fact]
    public void Changing_only_quantize_reruns_only_the_quantize_stage()
    {
        var dir = Temp();
        var first = Run(DistillPruneQuantize(dir, "a.onnx", "int8-dynamic"));
        Assert.True(first.Exit == 0, first.Stdout + first.Stderr);
        Assert.Contains("##modelbuild[progress] distill: starting", first.Stdout);
        Assert.Contains("##modelbuild[progress] prune: starting", first.Stdout);
        Assert.Contains("##modelbuild[progress] quantize: starting", first.Stdout);

        var second = Run(DistillPruneQuantize(dir, "b.onnx", "int8-weights"));
        Assert.True(second.Exit == 0, second.Stdout + second.Stderr);
        Assert.Matches(@"##modelbuild\[progress\] distill: cache hit [0-9a-f]{64}", second.Stdout);
        Assert.Matches(@"##modelbuild\[progress\] prune: cache hit [0-9a-f]{64}", second.Stdout);
        Assert.Matches(@"##modelbuild\[progress\] quantize: cache miss [0-9a-f]{64}", second.Stdout);
        Assert.DoesNotContain("distill: starting", second.Stdout);
        Assert.DoesNotContain("distill: epoch", second.Stdout);
        Assert.DoesNotContain("prune: starting", second.Stdout);
        Assert.Contains("##modelbuild[progress] quantize: starting", second.Stdout);

        var a = CompressionReport.FromJson(File.ReadAllText(Path.Combine(dir, "a.onnx.json")));
        var b = CompressionReport.FromJson(File.ReadAllText(Path.Combine(dir, "b.onnx.json")));
        Assert.Equal(["distill", "prune", "quantize"], b.Stages.Select(s => s.Name));
        Assert.Equal([false, false, false], a.Stages.Select(s => s.CacheHit));
        Assert.Equal([true, true, false], b.Stages.Select(s => s.CacheHit));
        // The cached stages hand on the same model: same keys, same figures, and their details survive the cache.
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(a.Stages[i].CacheKey, b.Stages[i].CacheKey);
            Assert.Equal(a.Stages[i].Bytes, b.Stages[i].Bytes);
            Assert.Equal(a.Stages[i].Accuracy, b.Stages[i].Accuracy);
            Assert.Equal(a.Stages[i].Details!.ToJsonString(), b.Stages[i].Details!.ToJsonString());
        }
        Assert.NotEqual(a.Stages[2].CacheKey, b.Stages[2].CacheKey);
        // The prune stage really pruned the distilled 13-16-3 student (16 hidden units -> 8).
        Assert.True(b.Stages[1].Parameters < b.Stages[0].Parameters, $"{b.Stages[1].Parameters} vs {b.Stages[0].Parameters}");

        // A distillation setting changes the distill key, and with it every later key: everything runs again.
        var third = Run([.. DistillPruneQuantize(dir, "c.onnx", "int8-weights"), "--seed", "3"]);
        Assert.True(third.Exit == 0, third.Stdout + third.Stderr);
        Assert.Contains("##modelbuild[progress] distill: starting", third.Stdout);
        Assert.Contains("##modelbuild[progress] prune: starting", third.Stdout);
    }

    [Fact]
    public void MB0515_settings_of_a_stage_that_is_not_requested_are_reported()
    {
        var dir = Temp();
        var (exit, stdout, stderr) = Run("compress", Wine("teacher.onnx"), "-o", Path.Combine(dir, "out.onnx"),
            "--student", Wine("student_scratch.onnx"), "--prune-steps", "3", "--latency-runs", "0");
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("##modelbuild[warning MB0515] Distillation settings (--student)", stdout);
        Assert.Contains("##modelbuild[warning MB0515] Pruning settings (--prune-steps)", stdout);
    }

    [Fact]
    public void MB0516_an_unwritable_stage_cache_is_a_warning_and_the_result_is_still_written()
    {
        var dir = Temp();
        var notAFolder = Path.Combine(dir, "file");
        File.WriteAllText(notAFolder, "");
        var output = Path.Combine(dir, "out.onnx");
        var (exit, stdout, stderr) = Run("compress", Wine("teacher.onnx"), "-o", output, "--quantize", "int8-weights",
            "--stage-cache", notAFolder, "--latency-runs", "0");
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("##modelbuild[warning MB0516]", stdout);
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void MB0517_an_unknown_prune_mode_or_loss_is_bad_input()
    {
        var dir = Temp();
        var prune = Run("compress", Wine("teacher.onnx"), "-o", Path.Combine(dir, "a.onnx"), "--prune", "0.5", "--prune-mode", "sideways");
        Assert.Equal(2, prune.Exit);
        Assert.Contains("MB0517", prune.Stdout + prune.Stderr);
        Assert.Contains("sideways", prune.Stdout + prune.Stderr);
        var loss = Run("compress", Wine("teacher.onnx"), "-o", Path.Combine(dir, "b.onnx"), "--distill", "--student-width", "0.1",
            "--train-data", Wine("train_x.npy"), "--loss", "hinge");
        Assert.Equal(2, loss.Exit);
        Assert.Contains("MB0517", loss.Stdout + loss.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "a.onnx")) || File.Exists(Path.Combine(dir, "b.onnx")));
    }
}
