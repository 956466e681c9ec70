using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Tests.MultiInput;

/// <summary>
/// The two public multi-input transformers without data (bert-squad-keras2onnx-tiny: three int32 [N,7] inputs;
/// gpt2-past-tiny: input_ids plus twelve past tensors [2,N,2,past,2] with the batch on axis 1): evaluation, timing and
/// every quantization form run on inputs generated for all their inputs.
/// </summary>
public class SharedMultiInputModelTests
{
    public static TheoryData<string, int> Models => new() { { "bert-squad-keras2onnx-tiny", 3 }, { "gpt2-past-tiny", 13 } };

    [Theory]
    [MemberData(nameof(Models))]
    public void Evaluate_and_time_with_every_input(string name, int inputs)
    {
        var model = TestMaterials.Model(name);
        var data = DataSource.ReadInputSet("generated:5", new DataReadOptions { ModelPath = model });
        Assert.Equal(inputs, data.Inputs.Count);
        var evaluator = new ModelEvaluator(data, null, latencyRuns: 20);
        evaluator.SetReference(model);
        var result = evaluator.Evaluate(model);
        Assert.Equal(100, result.Agreement);
        Assert.Equal(5, result.Predictions!.Length);
        Assert.NotNull(evaluator.Latency(model));
    }

    [Fact]
    public void Batches_cut_the_batch_axis_where_the_model_has_it()
    {
        // gpt2's past tensors carry the batch on axis 1: running 3 samples in one batch must give what 3 runs of one give.
        var model = TestMaterials.Model("gpt2-past-tiny");
        var data = SyntheticSample.For(model, 3);
        Assert.Equal([2L, 3, 2, SyntheticSample.DynamicSize, 2], data.Find("past_0")!.Shape);
        Assert.Equal(1, data.Inputs.Single(i => i.Name == "past_0").SampleAxis);
        using var runner = new ModelRunner(model);
        var together = runner.RunAll(data, preferredBatch: 3, outputs: ["last_state"]);
        var apart = runner.RunAll(data, preferredBatch: 1, outputs: ["last_state"]);
        Assert.Equal(12, together.Values[0].Length);
        for (var i = 0; i < together.Values[0].Length; i++) Assert.Equal(apart.Values[0][i], together.Values[0][i], 5);
        // And the samples differ, so the comparison would see a mixed-up batch.
        Assert.NotEqual(apart.Values[0][..4], apart.Values[0][4..8]);
    }

    [Theory]
    [InlineData("bert-squad-keras2onnx-tiny", "int8-static")]
    [InlineData("bert-squad-keras2onnx-tiny", "int8-dynamic")]
    [InlineData("bert-squad-keras2onnx-tiny", "auto")]
    [InlineData("gpt2-past-tiny", "int8-static")]
    [InlineData("gpt2-past-tiny", "int8-dynamic")]
    [InlineData("gpt2-past-tiny", "auto")]
    public void Quantize_with_generated_calibration_inputs(string name, string form)
    {
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = TestMaterials.Model(name), Output = Path.Combine(dir, "out.onnx"),
            Quantize = form, CalibrationData = form == "int8-dynamic" ? null : "generated:8", EvaluationData = "generated:8", Force = form != "auto",
            // No accuracy repair: these test-sized graphs are not functional models, and the subject here is that every
            // form runs with all the inputs (auto's own gates would otherwise keep layer after layer float). Generated
            // evaluation inputs have no labels, so the gate is on agreement (an accuracy gate there is MB0531).
            MinAgreement = 0,
        };
        var report = TestMaterials.Run(recipe, Path.Combine(dir, "r.json"), latencyRuns: 20);
        Assert.True(File.Exists(recipe.Output));
        Assert.NotNull(report.Teacher.LatencyMicroseconds);
        Assert.All(report.Inputs, i => Assert.EndsWith("(generated)", i));
        var candidates = TestMaterials.QuantizeDetails(report)["candidates"]!.AsArray();
        Assert.Contains(candidates, c => c!["form"]!.GetValue<string>() == (form == "auto" ? "int8-static" : form));
        Assert.All(candidates, c => Assert.NotNull(c!["latencyRatioToFloat"]));
        Assert.All(candidates, c => Assert.NotNull(c!["agreement"]));
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(recipe.Output);
    }
}
