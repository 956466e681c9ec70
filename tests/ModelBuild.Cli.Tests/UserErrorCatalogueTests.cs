using System.Text;
using ModelBuild.Compression.Data;
using ModelBuild.Onnx.Tensors;
using SkiaSharp;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// Failures a user can cause, each run end to end through the built CLI: exit 2 with its MBxxxx code (or success where
/// the input is legitimate), never exit 3 (internal error), 1 (reserved for a failed gate) or a stack trace, and no
/// output left behind. Each of these reached users as MB0599 / a raw exception / exit 1 before (issue 13, "Errors").
/// </summary>
public sealed class UserErrorCatalogueTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mb-errors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static void AssertUserError(string code, (int Exit, string Stdout, string Stderr) run)
    {
        Assert.True(run.Exit == 2, $"exit {run.Exit}, expected 2 with {code}\n{run.Stdout}\n{run.Stderr}");
        Assert.True(run.Stdout.Contains($"##modelbuild[error {code}]"), $"expected {code}:\n{run.Stdout}\n{run.Stderr}");
        Assert.True(run.Stderr.Contains($"error {code}: "), $"expected {code} on stderr:\n{run.Stderr}");
        Assert.DoesNotContain("   at ", run.Stdout); // no stack trace in the user-facing line
    }

    [Theory]
    [InlineData("compress", "teacher.onnx", "-o", "out.onnx", "--bogus")]
    [InlineData("inspect", "a.onnx", "b.onnx")]
    [InlineData("frobnicate")]
    [InlineData("eval", "model.onnx", "--threads", "many")]
    public void A_command_line_that_does_not_parse_exits_2_with_MB0560(params string[] args)
    {
        var run = CliProcess.Run(args);
        AssertUserError("MB0560", run);
        Assert.Contains("--help", run.Stdout);
    }

    [Fact]
    public void A_student_whose_output_name_differs_from_the_teachers_is_compared_by_position()
    {
        var student = TinyModels.Save(TinyModels.RenameOutput(TestPaths.Wine("student_kd.onnx"), 0, "student_scores"), PathOf("student.onnx"));
        var run = CliProcess.Run("eval", student, "--data", TestPaths.Wine("test_x.npy"), "--labels", TestPaths.Wine("test_y.npy"),
            "--reference", TestPaths.Wine("teacher.onnx"), "--latency-runs", "0", "--json");
        Assert.True(run.Exit == 0, run.Stdout + run.Stderr);
        Assert.Contains("\"student_scores\"", run.Stdout); // the SQNR is reported under the student's own output name
    }

    [Fact]
    public void Outputs_that_cannot_be_matched_to_the_references_are_MB0561()
    {
        // Two outputs against the teacher's one, the second named differently: no counterpart by name or position.
        var model = TinyModels.Save(TinyModels.WithIntAndBoolOutputs(TestPaths.Wine("teacher.onnx")), PathOf("extra.onnx"));
        var run = CliProcess.Run("eval", model, "--data", TestPaths.Wine("test_x.npy"), "--reference", TestPaths.Wine("teacher.onnx"), "--latency-runs", "0");
        AssertUserError("MB0561", run);
    }

    [Fact]
    public void Int32_and_bool_outputs_are_read_as_numbers()
    {
        var model = TinyModels.Save(TinyModels.WithIntAndBoolOutputs(TestPaths.Wine("teacher.onnx")), PathOf("int-bool.onnx"));
        var run = CliProcess.Run("eval", model, "--data", TestPaths.Wine("test_x.npy"), "--labels", TestPaths.Wine("test_y.npy"), "--latency-runs", "0", "--json");
        Assert.True(run.Exit == 0, run.Stdout + run.Stderr);
        Assert.Contains("\"accuracy\"", run.Stdout);
    }

    [Fact]
    public void A_ZipMap_output_is_MB0563_naming_the_output()
    {
        var model = TinyModels.Save(TinyModels.WithZipMap(TestPaths.Wine("teacher.onnx")), PathOf("zipmap.onnx"));
        // The numeric output is scored by default (a converter's ZipMap beside it is skipped); asking to score the
        // ZipMap itself is the user error.
        // Timed too: the latency meter fetches only the tensor outputs.
        var scored = CliProcess.Run("eval", model, "--data", TestPaths.Wine("test_x.npy"), "--labels", TestPaths.Wine("test_y.npy"), "--latency-runs", "5");
        Assert.True(scored.Exit == 0, scored.Stdout + scored.Stderr);
        var run = CliProcess.Run("eval", model, "--data", TestPaths.Wine("test_x.npy"), "--labels", TestPaths.Wine("test_y.npy"), "--latency-runs", "0", "--metric-output", "probabilities");
        AssertUserError("MB0563", run);
        Assert.Contains("'probabilities'", run.Stdout);
    }

    [Fact]
    public void Token_ids_beyond_the_vocabulary_are_MB0562_naming_the_samples()
    {
        var model = TinyModels.Save(TinyModels.Embedding(), PathOf("embedding.onnx"));
        File.WriteAllText(PathOf("ids.ids"), "1 2 3 4\n5 6 7 8\n1 2 3 400\n");
        var run = CliProcess.Run("eval", model, "--data", PathOf("ids.ids"), "--latency-runs", "0");
        AssertUserError("MB0562", run);
        Assert.Contains("ids.ids", run.Stdout);
    }

    /// <summary>Out-of-vocabulary ids reach ONNX Runtime in every stage that runs the model, not only in eval.</summary>
    [Theory]
    [InlineData("calibration")]
    [InlineData("evaluation")]
    [InlineData("latency")]
    public void Token_ids_beyond_the_vocabulary_in_any_stage_are_a_coded_error_and_write_nothing(string stage)
    {
        var model = TinyModels.Save(TinyModels.Embedding(), PathOf("embedding.onnx"));
        File.WriteAllText(PathOf("bad.ids"), "1 2 3 4\n5 6 7 8\n1 2 3 400\n");
        File.WriteAllText(PathOf("good.ids"), "1 2 3 4\n5 6 7 8\n");
        var output = PathOf("out.onnx");
        string[] args = stage switch
        {
            "calibration" => ["--quantize", "int8-static", "--calibration-data", PathOf("bad.ids"), "--latency-runs", "0"],
            "evaluation" => ["--quantize", "int8-dynamic", "--eval-data", PathOf("bad.ids"), "--latency-runs", "0"],
            _ => ["--quantize", "int8-dynamic", "--calibration-data", PathOf("bad.ids"), "--eval-data", PathOf("good.ids"), "--latency-runs", "20"],
        };
        var run = CliProcess.Run(["compress", model, "-o", output, .. args]);
        Assert.True(run.Exit == 2, $"exit {run.Exit}\n{run.Stdout}\n{run.Stderr}");
        Assert.Matches(@"##modelbuild\[error MB\d{4}\]", run.Stdout);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Prune_on_an_input_type_the_probe_cannot_feed_is_MB0564_and_writes_nothing()
    {
        var model = TinyModels.Save(TinyModels.Uint8InputMlp(), PathOf("uint8.onnx"));
        var output = PathOf("pruned.onnx");
        var run = CliProcess.Run("compress", model, "-o", output, "--prune", "0.5");
        AssertUserError("MB0564", run);
        Assert.Contains("'x'", run.Stdout);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void An_operator_form_the_importer_lacks_is_MB0301_not_data_does_not_fit()
    {
        var student = TinyModels.Save(TinyModels.Uint16CastStudent(), PathOf("uint16-student.onnx"));
        var output = PathOf("distilled.onnx");
        var run = CliProcess.Run("compress", TestPaths.Wine("teacher.onnx"), "-o", output, "--distill", "--student", student,
            "--train-data", TestPaths.Wine("train_x.npy"), "--train-labels", TestPaths.Wine("train_y.npy"), "--epochs", "1");
        AssertUserError("MB0301", run);
        Assert.Contains("casts to ONNX type 4", run.Stdout);
        Assert.False(File.Exists(output));
    }

    /// <summary>bench timed a NaN row without a word (eval refused the same file with MB0503).</summary>
    [Fact]
    public void Bench_data_with_NaN_is_MB0503()
    {
        var x = NpyArray.Read(TestPaths.Wine("test_x.npy"));
        var values = x.ToSingleArray();
        values[3] = float.NaN;
        NpyArray.Create(values, x.Shape).Save(PathOf("nan-bench.npy"));
        var run = CliProcess.Run("bench", TestPaths.Wine("teacher.onnx"), "--data", PathOf("nan-bench.npy"), "--runs", "10");
        AssertUserError("MB0503", run);
        Assert.Contains("(sample 0)", run.Stdout);
    }

    [Fact]
    public void A_npy_header_whose_element_count_overflows_is_MB0104()
    {
        var header = NpyHeader.Format(NpyDType.Float32, [4611686018427387904L, 4]);
        File.WriteAllBytes(PathOf("huge.npy"), [.. header, 0, 0, 0, 0]);
        var run = CliProcess.Run("eval", TestPaths.Wine("teacher.onnx"), "--data", PathOf("huge.npy"), "--latency-runs", "0");
        AssertUserError("MB0104", run);
    }

    /// <summary>
    /// The new-user trial's bad data, as typed: a NaN training row surfaced as MB0305 "lower the learning rate", an
    /// evaluation label of 7 on a 3-class model gave exit 0 and a lowered accuracy, a -1 label was printed as
    /// 18446744073709551615. Each is now the data code naming the file and the sample or entry, and nothing is written.
    /// </summary>
    [Theory]
    [InlineData("nan-training-row", "MB0503", "(sample 3)")]
    [InlineData("evaluation-label-7", "MB0122", "entry 4 is 7, but 'logits' scores 3 classes (0..2)")]
    [InlineData("evaluation-label-minus-1", "MB0122", "entry 0 is -1, not a class id >= 0")]
    [InlineData("training-label-7", "MB0306", "hold class 7 at entry 6")]
    public void The_trials_bad_data_is_a_data_error_naming_the_file_and_entry(string defect, string code, string expected)
    {
        string output = PathOf("out.onnx"), bad;
        string[] args;
        if (defect == "nan-training-row")
        {
            var x = NpyArray.Read(TestPaths.Wine("train_x.npy"));
            var values = x.ToSingleArray();
            values[3 * 13 + 2] = float.NaN;
            NpyArray.Create(values, x.Shape).Save(bad = PathOf("nan.npy"));
            args = ["--distill", "--student-width", "0.1", "--train-data", bad, "--train-labels", TestPaths.Wine("train_y.npy"), "--epochs", "3"];
        }
        else
        {
            bool training = defect.StartsWith("training", StringComparison.Ordinal);
            var labels = NpyArray.Read(TestPaths.Wine(training ? "train_y.npy" : "test_y.npy")).ToInt64Array();
            if (defect.EndsWith("-1", StringComparison.Ordinal)) labels[0] = -1;
            else labels[training ? 6 : 4] = 7;
            NpyArray.Create(labels, labels.Length).Save(bad = PathOf("bad_y.npy"));
            args = training
                ? ["--distill", "--student-width", "0.1", "--train-data", TestPaths.Wine("train_x.npy"), "--train-labels", bad, "--epochs", "1"]
                : ["--eval-data", TestPaths.Wine("test_x.npy"), "--eval-labels", bad];
        }
        var run = CliProcess.Run(["compress", TestPaths.Wine("teacher.onnx"), "-o", output, .. args]);
        AssertUserError(code, run);
        Assert.Contains($"'{bad}'", run.Stdout);
        Assert.Contains(expected, run.Stdout);
        Assert.Contains($"{bad}: error {code}: ", run.Stderr);
        Assert.False(File.Exists(output), "nothing may be written on a data error");
    }

    [Fact]
    public void Uint64_data_beyond_int64_is_MB0107_not_an_overflow()
    {
        // Found by the bad-input campaign (tests/ModelBuild.BadInputTests): a checked conversion threw OverflowException.
        NpyArray.Create(new ulong[] { 1, ulong.MaxValue, 3, 4 }, 1, 4).Save(PathOf("ids.npy"));
        var model = TinyModels.Save(TinyModels.Embedding(), PathOf("embedding.onnx"));
        var run = CliProcess.Run("eval", model, "--data", PathOf("ids.npy"), "--latency-runs", "0");
        AssertUserError("MB0107", run);
        Assert.Contains("18446744073709551615", run.Stdout);
    }

    /// <summary>
    /// Unreadable data in every reader, as a user without the permission meets it. Tests run as root, whom permissions do
    /// not stop, so the CLI runs as <c>nobody</c> (setpriv) on files it may not read.
    /// </summary>
    [SkippableTheory]
    [InlineData("csv")]
    [InlineData("ids")]
    [InlineData("tensorproto")]
    [InlineData("images")]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Data_the_user_may_not_read_is_MB0101_in_every_reader(string kind)
    {
        // As root the CLI must run as nobody (setpriv) for the permissions to bite; as any other user it runs as that
        // user, whom mode 000 already stops. Only root without setpriv cannot test this, and CI must not skip it.
        var root = Environment.UserName == "root";
        var canTest = OperatingSystem.IsLinux() && (!root || File.Exists("/usr/bin/setpriv"));
        if (!canTest && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
            Assert.Fail("CI is set but the CLI cannot be run without read permission here (root without setpriv(1))");
        Skip.IfNot(canTest, "needs Linux, and setpriv(1) when running as root");
        var shared = Directory.CreateDirectory(PathOf("nobody")).FullName;
        File.SetUnixFileMode(_dir, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(shared, (UnixFileMode)0b111_111_111);
        string model, data, locked;
        switch (kind)
        {
            case "csv":
                model = TestPaths.Wine("teacher.onnx");
                data = locked = Path.Combine(shared, "rows.csv");
                File.WriteAllText(data, string.Join(",", Enumerable.Repeat("0.5", 13)) + "\n");
                break;
            case "ids":
                model = TinyModels.Save(TinyModels.Embedding(), Path.Combine(shared, "embedding.onnx"));
                data = locked = Path.Combine(shared, "ids.ids");
                File.WriteAllText(data, "1 2 3 4\n");
                break;
            case "tensorproto":
                model = TestPaths.Wine("teacher.onnx");
                data = Directory.CreateDirectory(Path.Combine(shared, "pb")).FullName;
                locked = Path.Combine(data, "input_0.pb");
                File.WriteAllBytes(locked, Google.Protobuf.MessageExtensions.ToByteArray(TensorData.Create("x", Enumerable.Repeat(0.5f, 13).ToArray(), 1, 13)));
                break;
            default:
                model = TinyModels.Save(TinyModels.TinyImageModel(), Path.Combine(shared, "image.onnx"));
                data = Directory.CreateDirectory(Path.Combine(shared, "images")).FullName;
                locked = Path.Combine(data, "b.png");
                WritePng(Path.Combine(data, "a.png"));
                WritePng(locked);
                break;
        }
        File.SetUnixFileMode(model, (UnixFileMode)0b110_100_100);
        File.SetUnixFileMode(locked, UnixFileMode.None);
        var run = RunAsNobody("eval", model, "--data", data, "--latency-runs", "0");
        AssertUserError("MB0101", run);
        Assert.Contains(Path.GetFileName(locked), run.Stdout);
    }

    private static void WritePng(string path)
    {
        using var bitmap = new SKBitmap(4, 4);
        bitmap.Erase(SKColors.Gray);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    private static (int Exit, string Stdout, string Stderr) RunAsNobody(params string[] args)
    {
        var asRoot = Environment.UserName == "root";
        var start = new System.Diagnostics.ProcessStartInfo(asRoot ? "/usr/bin/setpriv" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        var prefix = asRoot ? new[] { "--reuid=nobody", "--regid=nogroup", "--clear-groups", "dotnet" } : [];
        foreach (var a in prefix.Append(Path.Combine(AppContext.BaseDirectory, "modelbuild.dll")).Concat(args))
            start.ArgumentList.Add(a);
        start.Environment["HOME"] = "/tmp";
        start.Environment["DOTNET_CLI_HOME"] = "/tmp";
        start.Environment["XDG_CACHE_HOME"] = "/tmp";
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, ModelBuild.TestSupport.ProducedCodes.Observe(stdout.Result)!, ModelBuild.TestSupport.ProducedCodes.Observe(stderr.Result)!);
    }
}
