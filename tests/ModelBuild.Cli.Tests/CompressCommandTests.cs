using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Cli.Tests;

/// <summary>The worker contract: exit codes 0/1/2, WorkerProtocol lines on stdout, report JSON + Markdown, --recipe.</summary>
public class CompressCommandTests
{
    private static readonly string Shared = TestPaths.Shared;
    private static string Wine(string file) => Path.Combine(Shared, "teachers", "wine-mlp", file);

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args) => CliProcess.Run(args);

    private static string Temp() => Directory.CreateTempSubdirectory("mb-cli-test-").FullName;

    [Fact]
    public void Success_exits_0_streams_protocol_lines_and_writes_model_and_reports()
    {
        var dir = Temp();
        var output = Path.Combine(dir, "out.onnx");
        var report = Path.Combine(dir, "r.json");
        var (exit, stdout, stderr) = Run("compress", Wine("teacher.onnx"), "-o", output, "--quantize", "int8-static",
            "--calibration-data", Wine("calib_x.npy"), "--eval-data", Wine("test_x.npy"), "--eval-labels", Wine("test_y.npy"),
            "--calibration-method", "entropy", "--report", report, "--latency-runs", "200", "--force");
        // --force: this test is about the protocol and the report; the latency gate's choice depends on this CPU's load.
        Assert.True(exit == 0, stdout + stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var kinds = lines.Select(l => WorkerProtocol.TryParse(l, out var kind, out _, out _) ? kind : "").ToList();
        Assert.Contains("progress", kinds);
        Assert.Contains("stage", kinds);
        Assert.Equal("summary", kinds[^1]);
        // The summary line is written once, by the worker: on stdout and in the report, where the build task reads it.
        var summaryLine = lines[^1];
        var written = CompressionReport.FromJson(File.ReadAllText(report)).Summary;
        Assert.Matches(@"^281,255 B -> [\d,]+ B \([\d.]+x smaller\), latency [\d.]+ us -> [\d.]+ us, accuracy [\d.]+% -> [\d.]+%, agreement 100\.00%$", written);
        Assert.EndsWith(written!, summaryLine);
        Assert.True(File.Exists(output));
        var parsed = CompressionReport.FromJson(File.ReadAllText(report));
        Assert.Equal(Path.GetFullPath(output), parsed.Result.Path);
        Assert.True(parsed.Result.Bytes < parsed.Teacher.Bytes / 3, $"{parsed.Result.Bytes} vs {parsed.Teacher.Bytes}: {stdout}");
        Assert.NotNull(parsed.Teacher.LatencyMicroseconds);
        Assert.Equal(100, parsed.Result.Agreement);
        Assert.Single(parsed.Stages);
        Assert.False(string.IsNullOrEmpty(parsed.CacheKey));
        Assert.Contains("# ModelBuild compression report", File.ReadAllText(Path.ChangeExtension(report, ".md")));
    }

    [Fact]
    public void The_report_names_the_cache_entry_the_task_keys_the_result_by()
    {
        var dir = Temp();
        var recipe = new CompressionRecipe { Teacher = Wine("teacher.onnx"), Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-dynamic" };
        string ReportedKey(params string[] extra)
        {
            var report = Path.Combine(dir, "r.json");
            var (exit, stdout, stderr) = Run(["compress", recipe.Teacher, "-o", recipe.Output, "--quantize", "int8-dynamic", "--latency-runs", "0", "--report", report, .. extra]);
            Assert.True(exit == 0, stdout + stderr);
            return CompressionReport.FromJson(File.ReadAllText(report)).CacheKey!;
        }
        // Given the task's key, the report carries it; without, the worker computes the key the task would (same scheme, same deps file).
        Assert.Equal("0123abcd", ReportedKey("--cache-key", "0123abcd"));
        Assert.Equal(ContentKey.OfResult(recipe, ToolVersions.FromDepsFile(Path.Combine(AppContext.BaseDirectory, "modelbuild.deps.json"))), ReportedKey());
    }

    [Fact]
    public void Quantization_aware_distillation_trains_through_fake_quantization_then_writes_the_static_int8_model()
    {
        var dir = Temp();
        var output = Path.Combine(dir, "out.onnx");
        var report = Path.Combine(dir, "r.json");
        var (exit, stdout, stderr) = Run("compress", Wine("teacher.onnx"), "-o", output, "--distill", "--student", Wine("student_scratch.onnx"),
            "--reinitialize", "--train-data", Wine("train_x.npy"), "--train-labels", Wine("train_y.npy"), "--epochs", "200",
            "--quantization-aware", "--quantize", "int8-static", "--calibration-data", Wine("calib_x.npy"),
            "--eval-data", Wine("test_x.npy"), "--eval-labels", Wine("test_y.npy"), "--report", report, "--latency-runs", "0", "--threads", "1",
            // --force: the 13-16-3 student is 1.5 KB, so its QDQ nodes outweigh the int8 weights (MB0216 keeps float without it).
            "--force");
        Assert.True(exit == 0, stdout + stderr);
        var parsed = CompressionReport.FromJson(File.ReadAllText(report));
        Assert.Equal(["distill", "quantize"], parsed.Stages.Select(s => s.Name).ToArray());
        Assert.True(parsed.Stages[0].Details!["quantizationAware"]!.GetValue<bool>());
        Assert.Equal("int8-static", parsed.Stages[1].Details!["chosen"]!.GetValue<string>());
        // The stated student (13-16-3), the reference's 200 epochs, trained for int8: at least the reference KD figure minus 0.5.
        Assert.True(parsed.Result.Accuracy >= 98.148 - 0.5 - 1e-9, $"{parsed.Result.Accuracy}: {stdout}");
    }

    [Fact]
    public void Quantization_aware_distillation_without_the_static_int8_step_is_mb0518()
    {
        var dir = Temp();
        var output = Path.Combine(dir, "out.onnx");
        var (exit, stdout, stderr) = Run("compress", Wine("teacher.onnx"), "-o", output, "--distill", "--student", Wine("student_scratch.onnx"),
            "--train-data", Wine("train_x.npy"), "--quantization-aware", "--quantize", "int8-dynamic");
        Assert.Equal(2, exit);
        Assert.Contains("MB0518", stdout + stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void A_failed_quality_gate_exits_1_with_its_code_and_writes_no_model()
    {
        var dir = Temp();
        var output = Path.Combine(dir, "out.onnx");
        var (exit, stdout, _) = Run("compress", Wine("teacher.onnx"), "-o", output, "--quantize", "int8-weights",
            "--eval-data", Wine("test_x.npy"), "--eval-labels", Wine("test_y.npy"), "--min-agreement", "101", "--latency-runs", "0",
            "--report", Path.Combine(dir, "r.json"));
        Assert.Equal(1, exit);
        Assert.Contains("##modelbuild[error MB0521]", stdout);
        Assert.False(File.Exists(output));
        Assert.True(File.Exists(Path.Combine(dir, "r.json")));
        // The worker states the gate's figures in the report; the build task forwards them (MB0607) instead of rebuilding them.
        var gate = CompressionReport.FromJson(File.ReadAllText(Path.Combine(dir, "r.json"))).Gate;
        Assert.NotNull(gate);
        Assert.Matches(@"^accuracy teacher [\d.]+% -> result [\d.]+% \(drop -?[\d.]+ points\), agreement [\d.]+% \(required 101\.00%\), latency n/a -> n/a$", gate);
    }

    /// <summary>A gate given on the command line or in a recipe is checked or refused, never skipped (exit 0 before).</summary>
    [Theory]
    [InlineData("MB0530", "--max-accuracy-drop", "1", false)]
    [InlineData("MB0530", "--min-agreement", "99", true)]
    [InlineData("MB0532", "--max-latency-us", "1000000", false)]
    public void A_gate_that_cannot_be_measured_exits_2_and_writes_nothing(string code, string option, string value, bool inRecipe)
    {
        var dir = Temp();
        var output = Path.Combine(dir, "out.onnx");
        string[] gate = [option, value];
        if (inRecipe)
        {
            File.WriteAllText(Path.Combine(dir, "recipe.json"), $$"""{ "minAgreement": {{value}} }""");
            gate = ["--recipe", Path.Combine(dir, "recipe.json")];
        }
        var (exit, stdout, _) = Run(["compress", Wine("teacher.onnx"), "-o", output, "--quantize", "int8-weights", "--latency-runs", "0", .. gate]);
        Assert.Equal(2, exit);
        Assert.Contains($"##modelbuild[error {code}]", stdout);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Bad_input_exits_2_with_an_mb_code()
    {
        var dir = Temp();
        var output = Path.Combine(dir, "out.onnx");
        var (exit, stdout, stderr) = Run("compress", Wine("teacher.onnx"), "-o", output, "--quantize", "int8-static", "--latency-runs", "0");
        Assert.Equal(2, exit);
        Assert.Contains("##modelbuild[error MB0204]", stdout);
        Assert.Contains("fix:", stderr);
        Assert.False(File.Exists(output));

        (exit, stdout, _) = Run("compress", Path.Combine(dir, "missing.onnx"), "-o", output, "--quantize", "int8-dynamic");
        Assert.Equal(2, exit);
        Assert.Contains("##modelbuild[error MB0001]", stdout);
    }

    [Fact]
    public void Synthetic_without_training_data_goes_to_DeepInversion_which_needs_a_BatchNorm_teacher()
    {
        // --synthetic alone is accepted (no MB0311) and reaches the data-free generator, which refuses a teacher without BatchNorm.
        var dir = Temp();
        var output = Path.Combine(dir, "out.onnx");
        var (exit, stdout, stderr) = Run("compress", Wine("teacher.onnx"), "-o", output, "--distill", "--student-width", "0.1",
            "--synthetic", "64", "--epochs", "1", "--latency-runs", "0");
        Assert.Equal(2, exit);
        Assert.Contains("##modelbuild[error MB0333]", stdout);
        Assert.Contains("--train-data", stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void A_recipe_file_drives_the_worker_and_options_override_it()
    {
        var dir = Temp();
        var recipe = new CompressionRecipe
        {
            Teacher = Wine("teacher.onnx"), Output = Path.Combine(dir, "from-recipe.onnx"), Quantize = "fp16",
            EvaluationData = Wine("test_x.npy"), EvaluationLabels = Wine("test_y.npy"),
        };
        var recipePath = Path.Combine(dir, "r.json");
        File.WriteAllText(recipePath, recipe.ToJson());
        var output = Path.Combine(dir, "override.onnx");
        var (exit, stdout, stderr) = Run("compress", "--recipe", recipePath, "-o", output, "--quantize", "int8-weights", "--latency-runs", "0",
            "--report", Path.Combine(dir, "report.json"));
        Assert.True(exit == 0, stdout + stderr);
        Assert.True(File.Exists(output));
        Assert.False(File.Exists(recipe.Output));
        var report = CompressionReport.FromJson(File.ReadAllText(Path.Combine(dir, "report.json")));
        Assert.Equal("int8-weights", report.Stages[0].Details!["mode"]!.GetValue<string>());

        File.WriteAllText(recipePath, "{ not json");
        (exit, stdout, _) = Run("compress", "--recipe", recipePath);
        Assert.Equal(2, exit);
        Assert.Contains("MB0513", stdout);
    }

    [Fact]
    public void Eval_and_bench_print_their_figures()
    {
        var (exit, stdout, stderr) = Run("eval", Wine("teacher.onnx"), "--data", Wine("test_x.npy"), "--labels", Wine("test_y.npy"),
            "--reference", Wine("teacher.onnx"), "--latency-runs", "100");
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("accuracy   100.00%", stdout);
        Assert.Contains("agreement  100.00%", stdout);
        Assert.Contains("latency", stdout);

        (exit, stdout, stderr) = Run("bench", Wine("teacher.onnx"), "--baseline", Wine("student_kd.onnx"), "--runs", "200");
        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("ratio", stdout);
    }
}
