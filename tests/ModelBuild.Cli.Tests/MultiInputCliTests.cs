using System.Text.Json.Nodes;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// <c>eval</c> and <c>bench</c> feed every input of a multi-input model: the intent-bert teacher from test.npz (one
/// array per input name), the shared BERT and GPT-2 test models from inputs generated for all their inputs.
/// </summary>
public sealed class MultiInputCliTests
{
    static string Model(string name) => Path.Combine(TestPaths.Shared, "models", name, "model.onnx");
    static string Intent(string file) => Path.Combine(TestPaths.Shared, "teachers", "intent-bert", file);

    [Fact]
    public void Eval_reads_one_array_per_input_name_and_says_which_output_it_scores()
    {
        var r = CliProcess.Run("eval", Intent("teacher.onnx"), "--data", Intent("test.npz"), "--labels", Intent("test_y.npy"), "--latency-runs", "20", "--json");
        Assert.True(r.Exit == 0, r.Stderr);
        var json = JsonNode.Parse(r.Stdout)!;
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], json["inputs"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal("logits", json["output"]!.GetValue<string>());
        var reference = JsonNode.Parse(File.ReadAllText(Intent("reference.json")))!["teacher"]!["test_acc"]!.GetValue<double>() * 100;
        Assert.Equal(reference, json["accuracy"]!.GetValue<double>(), 0.01);
        Assert.NotNull(json["latencyMicroseconds"]);

        var wrong = CliProcess.Run("eval", Intent("teacher.onnx"), "--data", Intent("test.npz"), "--output", "end_logits", "--latency-runs", "0");
        Assert.Equal(2, wrong.Exit);
        Assert.Contains("MB0583", wrong.Stdout + wrong.Stderr);
    }

    [Theory]
    [InlineData("bert-squad-keras2onnx-tiny", 3)]
    [InlineData("gpt2-past-tiny", 13)]
    public void Eval_and_bench_feed_every_input_of_the_shared_transformers(string name, int inputs)
    {
        var eval = CliProcess.Run("eval", Model(name), "--data", "generated:4", "--reference", Model(name), "--latency-runs", "10", "--json");
        Assert.True(eval.Exit == 0, eval.Stderr);
        var e = JsonNode.Parse(eval.Stdout)!;
        Assert.Equal(inputs, e["inputs"]!.AsArray().Count);
        Assert.Equal(4, e["samples"]!.GetValue<int>());
        Assert.Equal(100, e["agreement"]!.GetValue<double>());

        var bench = CliProcess.Run("bench", Model(name), "--runs", "20", "--batch", "2", "--json");
        Assert.True(bench.Exit == 0, bench.Stderr);
        var b = JsonNode.Parse(bench.Stdout)!;
        Assert.Equal(inputs, b["inputs"]!.AsArray().Count);
        Assert.True(b["model"]!["latencyMicroseconds"]!.GetValue<double>() > 0);
    }
}
