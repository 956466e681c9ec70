using System.Text.Json.Nodes;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Tests.MultiInput;

/// <summary>
/// The BERT-style teacher with three int64 inputs (input_ids, attention_mask, token_type_ids; dynamic batch and
/// sequence): evaluated from test.npz (one array per input name), calibrated from calib.npz, timed and gated.
/// </summary>
public class IntentBertMultiInputTests
{
    static string Intent(string file) => Path.Combine(TestMaterials.Teacher("intent-bert"), file);
    static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];

    [Fact]
    public void Evaluates_from_test_npz_to_the_accuracy_in_its_reference()
    {
        var set = DataSource.Read(Intent("test.npz"), new DataReadOptions { ModelPath = Intent("teacher.onnx") }, Intent("test_y.npy"));
        Assert.Equal(InputNames, set.Inputs.Inputs.Select(i => i.Name));
        Assert.All(set.Inputs.Inputs, i => Assert.Equal([1200L, 32], i.Tensor.Shape));
        var evaluator = new ModelEvaluator(set.Inputs, set.LabelTensor, latencyRuns: 0);
        evaluator.SetReference(Intent("teacher.onnx"));
        var result = evaluator.Evaluate(Intent("teacher.onnx"));
        var reference = JsonNode.Parse(File.ReadAllText(Intent("reference.json")))!["teacher"]!["test_acc"]!.GetValue<double>() * 100;
        Assert.Equal(reference, result.Accuracy!.Value, 0.01);
        Assert.Equal("logits", evaluator.Output);
    }

    [Fact]
    public void Calibrates_int8_static_from_calib_npz_and_its_latency_is_measured_and_gated()
    {
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = Intent("teacher.onnx"), Output = Path.Combine(dir, "out.onnx"),
            Quantize = "int8-static", CalibrationData = Intent("calib.npz"),
            EvaluationData = Intent("test.npz"), EvaluationLabels = Intent("test_y.npy"),
            Force = true,
        };
        var report = TestMaterials.Run(recipe, Path.Combine(dir, "r.json"), latencyRuns: 50);
        Assert.Equal(InputNames, report.Inputs.Select(i => i.Split(' ')[0]));
        Assert.Equal("logits", report.MetricOutput);
        Assert.Contains("`logits`", File.ReadAllText(Path.Combine(dir, "r.md")));
        Assert.NotNull(report.Teacher.LatencyMicroseconds);
        Assert.NotNull(report.Result.LatencyMicroseconds);
        var details = TestMaterials.QuantizeDetails(report);
        var candidate = details["candidates"]!.AsArray().Single(c => c!["form"]!.GetValue<string>() == "int8-static")!;
        Assert.NotNull(candidate["latencyRatioToFloat"]);
        Assert.Equal("minmax", details["calibrationMethod"]!.GetValue<string>().ToLowerInvariant());
        Assert.True(report.Result.Agreement > 95, $"agreement {report.Result.Agreement}");
        Assert.True(report.Teacher.Accuracy - report.Result.Accuracy < 2, $"{report.Teacher.Accuracy} -> {report.Result.Accuracy}");

        // The latency gate applies to a model with three inputs as to any other.
        var gated = new CompressionRecipe
        {
            Teacher = Intent("teacher.onnx"), Output = Path.Combine(dir, "gated.onnx"),
            EvaluationData = Intent("test.npz"), EvaluationLabels = Intent("test_y.npy"), MaxLatencyMicroseconds = 1,
        };
        var e = Assert.Throws<QualityGateException>(() => TestMaterials.Run(gated, latencyRuns: 20));
        Assert.Equal("MB0522", e.Code);
        Assert.False(File.Exists(gated.Output));
    }

    [Fact]
    public void A_metric_output_the_model_does_not_have_is_MB0583()
    {
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = Intent("teacher.onnx"), Output = Path.Combine(dir, "out.onnx"),
            EvaluationData = Intent("test.npz"), EvaluationLabels = Intent("test_y.npy"), MetricOutput = "start_logits",
        };
        var e = Assert.Throws<ModelBuildException>(() => TestMaterials.Run(recipe));
        Assert.Equal("MB0583", e.Code);
        Assert.Contains("logits", e.Cause);
    }

    [Fact]
    public void Arrays_with_different_sample_counts_or_a_missing_input_are_refused_by_name()
    {
        var dir = TestMaterials.TempDir();
        var test = NpzArchive.Read(Intent("test.npz"));
        NpyArray Rows(NpyArray a, int n) => NpyArray.Create(a.As<long>()[..(n * 32)], n, 32);
        var ragged = Path.Combine(dir, "ragged.npz");
        NpzArchive.Write(ragged, new Dictionary<string, NpyArray>
        {
            ["input_ids"] = Rows(test["input_ids"], 10), ["attention_mask"] = Rows(test["attention_mask"], 9), ["token_type_ids"] = Rows(test["token_type_ids"], 10),
        });
        var options = new DataReadOptions { ModelPath = Intent("teacher.onnx") };
        var counts = Assert.Throws<ModelBuildException>(() => DataSource.ReadInputSet(ragged, options));
        Assert.Equal("MB0580", counts.Code);
        Assert.Contains("attention_mask", counts.Cause);

        var missing = Path.Combine(dir, "missing.npz");
        NpzArchive.Write(missing, new Dictionary<string, NpyArray> { ["input_ids"] = Rows(test["input_ids"], 10), ["token_type_ids"] = Rows(test["token_type_ids"], 10) });
        using var runner = new ModelRunner(Intent("teacher.onnx"));
        var absent = Assert.Throws<ModelBuildException>(() => runner.Bind(DataSource.ReadInputSet(missing, options), "evaluation data"));
        Assert.Equal("MB0582", absent.Code);
        Assert.Contains("'attention_mask'", absent.Cause);

        // One array is what single-input readers take: a three-input archive there says so.
        var single = Assert.Throws<ModelBuildException>(() => DataSource.ReadTensor(Intent("test.npz"), options));
        Assert.Equal("MB0581", single.Code);
    }

    [Fact]
    public void A_table_with_one_column_per_input_name_reads_like_the_npz()
    {
        var dir = TestMaterials.TempDir();
        var options = new DataReadOptions { ModelPath = Intent("teacher.onnx"), LabelColumn = "intent" };
        var npz = DataSource.Read(Intent("test.npz"), options, Intent("test_y.npy"));
        const int rows = 40;
        string Cell(string input, int row) => string.Join(' ', npz.Inputs.Find(input)!.Int64s!.AsSpan(row * 32, 32).ToArray());
        // Columns in another order than the model's, and a label column: binding is by name.
        var lines = new List<string> { "token_type_ids,intent,input_ids,attention_mask" };
        for (var r = 0; r < rows; r++) lines.Add($"{Cell("token_type_ids", r)},{npz.Labels![r]},{Cell("input_ids", r)},{Cell("attention_mask", r)}");
        var csv = Path.Combine(dir, "test.csv");
        File.WriteAllLines(csv, lines);

        var table = DataSource.Read(csv, options);
        Assert.Equal(InputNames, table.Inputs.Inputs.Select(i => i.Name));
        Assert.Equal([(long)rows, 32], table.Inputs.Find("input_ids")!.Shape);
        Assert.Equal(npz.Labels![..rows], table.Labels!);
        var fromTable = new ModelEvaluator(table.Inputs, table.LabelTensor, latencyRuns: 0).Evaluate(Intent("teacher.onnx"));
        // The same first rows of the npz, with the table's labels (label counts must match the rows exactly).
        var fromNpz = new ModelEvaluator(npz.Inputs.Take(rows), table.LabelTensor, latencyRuns: 0).Evaluate(Intent("teacher.onnx"));
        Assert.Equal(fromNpz.Predictions, fromTable.Predictions);

        // A vector cell one id short on one row is a ragged row, named by line.
        var shortIds = string.Join(' ', npz.Inputs.Find("input_ids")!.Int64s!.AsSpan(2 * 32, 31).ToArray());
        lines[3] = $"{Cell("token_type_ids", 2)},{npz.Labels![2]},{shortIds},{Cell("attention_mask", 2)}";
        File.WriteAllLines(csv, lines);
        Assert.Equal("MB0112", Assert.Throws<ModelBuildException>(() => DataSource.Read(csv, options)).Code);
    }

    [Fact]
    public void Generated_inputs_use_ids_inside_the_vocabulary_and_masks_of_one()
    {
        var vocabulary = File.ReadAllLines(Intent("vocab.txt")).Length;
        var set = SyntheticSample.For(Intent("teacher.onnx"), 16);
        Assert.Equal(InputNames, set.Inputs.Select(i => i.Name));
        var ids = set.Find("input_ids")!.Int64s!;
        Assert.All(ids, id => Assert.InRange(id, 1, vocabulary - 1));
        Assert.True(ids.Distinct().Count() > 10, "ids should spread over the vocabulary");
        Assert.All(set.Find("attention_mask")!.Int64s!, v => Assert.Equal(1, v));
        Assert.All(set.Find("token_type_ids")!.Int64s!, v => Assert.Equal(0, v));
        Assert.Equal([16L, SyntheticSample.DynamicSize], set.Find("input_ids")!.Shape);
    }
}
