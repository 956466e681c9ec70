using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// A gate the user asked for is checked or the run fails with a code saying what is missing; a candidate's report row
/// says which gates were checked. Each of these ran to exit 0 with the gate silently skipped before MB0530-MB0533.
/// </summary>
public class UserGateTests
{
    private static (CompressionRecipe Recipe, string Dir) Wine(string quantize)
    {
        var dir = TestMaterials.TempDir();
        return (TestMaterials.TeacherRecipe("wine-mlp", Path.Combine(dir, "out.onnx"), quantize), dir);
    }

    private static ModelBuildException Refused(CompressionRecipe recipe, string code, int latencyRuns = 0)
    {
        var e = Assert.ThrowsAny<ModelBuildException>(() => TestMaterials.Run(recipe, latencyRuns: latencyRuns));
        Assert.Equal(code, e.Code);
        Assert.Equal(2, e.ExitCode);
        Assert.False(File.Exists(recipe.Output), "no output may be written when a gate cannot be checked");
        return e;
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void An_accuracy_or_agreement_gate_without_evaluation_data_is_refused(bool maxDrop, bool minAgreement)
    {
        var (recipe, _) = Wine("int8-weights");
        recipe.EvaluationData = recipe.EvaluationLabels = null;
        if (maxDrop) recipe.MaxAccuracyDrop = 1;
        if (minAgreement) recipe.MinAgreement = 99;
        var e = Refused(recipe, "MB0530");
        Assert.Contains(maxDrop ? "--max-accuracy-drop" : "--min-agreement", e.Cause);
        Assert.Contains("--eval-data", e.Remedy);
    }

    [Fact]
    public void An_explicit_form_failing_its_gate_on_calibration_data_alone_is_not_written()
    {
        // Before: MB0206 warned that the form fails the gate on calibration data, then the model was written, exit 0.
        var (recipe, _) = Wine("int8-static");
        recipe.EvaluationData = recipe.EvaluationLabels = null;
        recipe.MinAgreement = 101;
        Refused(recipe, "MB0530");
    }

    [Fact]
    public void A_max_accuracy_drop_with_unlabelled_evaluation_data_is_refused()
    {
        var (recipe, _) = Wine("int8-weights");
        recipe.EvaluationLabels = null;
        recipe.MaxAccuracyDrop = 0;
        var e = Refused(recipe, "MB0531");
        Assert.Equal(recipe.EvaluationData, e.File);

        // Agreement needs no labels: the same data gates --min-agreement.
        var (agreementOnly, _) = Wine("int8-weights");
        agreementOnly.EvaluationLabels = null;
        agreementOnly.MinAgreement = 90;
        var report = TestMaterials.Run(agreementOnly);
        Assert.NotNull(report.Result.Agreement);
        Assert.Null(report.Result.Accuracy);
    }

    [Fact]
    public void A_latency_gate_with_timing_switched_off_is_refused()
    {
        var (recipe, _) = Wine("int8-weights");
        recipe.MaxLatencyMicroseconds = 1e9;
        var e = Refused(recipe, "MB0532", latencyRuns: 0);
        Assert.Contains("--latency-runs", e.Cause);
    }

    [Fact]
    public void A_latency_gate_on_a_multi_input_model_is_checked_not_skipped()
    {
        // intent-bert has three inputs; it used to be untimed (MB0514) and its latency gate passed unmeasured.
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = Path.Combine(TestMaterials.Teacher("intent-bert"), "teacher.onnx"),
            Output = Path.Combine(dir, "out.onnx"),
            Quantize = "int8-dynamic",
            MaxLatencyMicroseconds = 1,
        };
        var e = Assert.Throws<QualityGateException>(() => TestMaterials.Run(recipe, latencyRuns: 20));
        Assert.Equal("MB0522", e.Code);
        Assert.False(File.Exists(recipe.Output), "a model that fails its gate is not written");
    }

    [Fact]
    public void Unmeasured_latency_is_said_plainly_and_no_candidate_passes_a_gate_it_was_not_checked_on()
    {
        var (recipe, dir) = Wine("auto");
        var report = TestMaterials.Run(recipe, Path.Combine(dir, "r.json"), latencyRuns: 0);
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0533"));
        var details = TestMaterials.QuantizeDetails(report);
        Assert.StartsWith("not measured", details["latency"]!.GetValue<string>());
        foreach (var c in details["candidates"]!.AsArray())
        {
            var gates = c!["gatesChecked"]!.AsArray().Select(g => g!.GetValue<string>()).ToList();
            Assert.DoesNotContain("not slower than float", gates);
            Assert.Contains("agreement", gates); // auto's default agreement gate, measured on the evaluation set
            var reason = c["reason"]!.GetValue<string>();
            Assert.DoesNotContain("passes the gates", reason);
            if (c["passed"]!.GetValue<bool>()) Assert.Contains("latency not measured", reason);
        }
        var markdown = File.ReadAllText(Path.Combine(dir, "r.md"));
        Assert.Contains("gatesChecked", markdown);
        Assert.Contains("latency not measured", markdown);
    }

    [Fact]
    public void A_candidate_no_gate_was_measured_on_has_no_passed_flag_and_says_so()
    {
        var (recipe, dir) = Wine("int8-weights");
        var report = TestMaterials.Run(recipe, Path.Combine(dir, "r.json"), latencyRuns: 0);
        var candidate = TestMaterials.QuantizeDetails(report)["candidates"]!.AsArray().Single()!;
        Assert.Empty(candidate["gatesChecked"]!.AsArray());
        Assert.Null(candidate["passed"]);
        Assert.StartsWith("no gate checked", candidate["reason"]!.GetValue<string>());
        var html = File.ReadAllText(Path.Combine(dir, "r.html"));
        Assert.DoesNotContain("passes the gates", html);
        Assert.Contains("gates checked: none", html);
    }

    [Fact]
    public void Measured_gates_are_listed_on_each_candidate()
    {
        var (recipe, dir) = Wine("int8-weights");
        recipe.MaxAccuracyDrop = 100;
        recipe.MinAgreement = 0;
        var report = TestMaterials.Run(recipe, Path.Combine(dir, "r.json"), latencyRuns: 50);
        var candidate = TestMaterials.QuantizeDetails(report)["candidates"]!.AsArray()[0]!;
        var gates = candidate["gatesChecked"]!.AsArray().Select(g => g!.GetValue<string>()).ToList();
        Assert.Equal(["accuracy drop", "agreement", "not slower than float"], gates);
    }
}
