namespace ModelBuild.Cli.Tests;

/// <summary>Text data through the command line: the options reach the reader, and its errors are exit 2 with their code.</summary>
public sealed class TextDataCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mb-text-cli-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    static string Bert(string file) => Path.Combine(TestPaths.Shared, "teachers", "intent-bert", file);

    string Tsv(params string[] rows)
    {
        var path = Path.Combine(_dir, $"data{Guid.NewGuid():N}.tsv");
        File.WriteAllLines(path, ["text\tintent", .. rows]);
        return path;
    }

    static System.Text.Json.Nodes.JsonNode Json(string stdout) => System.Text.Json.Nodes.JsonNode.Parse(stdout)!;

    [Fact]
    public void Eval_on_test_tsv_through_the_tokenizer_equals_eval_on_test_npz()
    {
        var text = CliProcess.Run("eval", Bert("teacher.onnx"), "--data", Bert("test.tsv"), "--tokenizer", Bert("vocab.txt"), "--text-column", "text",
            "--label-column", "intent", "--labels", Bert("labels.json"), "--max-length", "32", "--latency-runs", "0", "--json");
        Assert.True(text.Exit == 0, text.Stderr);
        var ids = CliProcess.Run("eval", Bert("teacher.onnx"), "--data", Bert("test.npz"), "--labels", Bert("test_y.npy"), "--latency-runs", "0", "--json");
        Assert.True(ids.Exit == 0, ids.Stderr);
        Assert.Equal(1200, (int)Json(text.Stdout)["samples"]!);
        Assert.Equal((double)Json(ids.Stdout)["accuracy"]!, (double)Json(text.Stdout)["accuracy"]!);
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], Json(text.Stdout)["inputs"]!.AsArray().Select(n => (string)n!).ToArray());
    }

    [Fact]
    public void Compress_reads_calibration_and_evaluation_text_through_the_tokenizer()
    {
        var output = Path.Combine(_dir, "intent-int8.onnx");
        var report = Path.Combine(_dir, "report.json");
        var (exit, stdout, stderr) = CliProcess.Run("compress", Bert("teacher.onnx"), "-o", output, "--quantize", "int8-static",
            "--calibration-data", Bert("val.tsv"), "--eval-data", Bert("test.tsv"), "--tokenizer", Bert("vocab.txt"),
            "--label-column", "intent", "--labels", Bert("labels.json"), "--max-length", "32", "--latency-runs", "0", "--report", report);
        Assert.True(exit == 0, stderr);
        // The tokenizer says which inputs it fills.
        Assert.Contains("text: WordPiece (BERT, lower-cased) from vocab.txt fills input_ids, attention_mask, token_type_ids (int64)", stdout + stderr);
        Assert.True(File.Exists(output));
        var teacher = Json(File.ReadAllText(report))["teacher"]!;
        var ids = CliProcess.Run("eval", Bert("teacher.onnx"), "--data", Bert("test.npz"), "--labels", Bert("test_y.npy"), "--latency-runs", "0", "--json");
        Assert.Equal((double)Json(ids.Stdout)["accuracy"]!, (double)teacher["accuracy"]!);
    }

    [Fact]
    public void MB0147_a_text_column_without_a_tokenizer()
    {
        var (exit, _, stderr) = CliProcess.Run("eval", Bert("teacher.onnx"), "--data", Tsv("cancel my meeting\tmeeting.delete"), "--text-column", "text");
        Assert.Equal(2, exit);
        Assert.Contains("MB0147", stderr);
    }

    [Fact]
    public void MB0141_through_eval_labels_json_names_line_and_file()
    {
        var (exit, _, stderr) = CliProcess.Run("eval", Bert("teacher.onnx"), "--data", Tsv("cancel my meeting\tmeeting.delete", "fly me to rome\ttravel.book"),
            "--tokenizer", Bert("vocab.txt"), "--label-column", "intent", "--labels", Bert("labels.json"));
        Assert.Equal(2, exit);
        Assert.Contains("MB0141", stderr);
        Assert.Contains("line 3", stderr);
    }

    [Fact]
    public void MB0148_accented_text_in_a_process_without_ICU_is_refused()
    {
        var data = Tsv("annulez la réunion\tmeeting.delete");
        var invariant = new Dictionary<string, string> { ["DOTNET_SYSTEM_GLOBALIZATION_INVARIANT"] = "1" };
        var (exit, _, stderr) = CliProcess.Run(invariant, "eval", Bert("teacher.onnx"), "--data", data, "--tokenizer", Bert("vocab.txt"),
            "--label-column", "intent", "--labels", Bert("labels.json"));
        Assert.Equal(2, exit);
        Assert.Contains("MB0148", stderr);
    }
}
