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
