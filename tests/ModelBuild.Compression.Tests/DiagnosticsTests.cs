using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Compression.Tests;

/// <summary>Bad input gets a coded message naming the file and expected vs got; nothing is written on failure.</summary>
public class DiagnosticsTests
{
    private static (CompressionRecipe Recipe, string Dir) Wine(string quantize = "int8-static")
    {
        var dir = TestMaterials.TempDir();
        return (TestMaterials.TeacherRecipe("wine-mlp", Path.Combine(dir, "out.onnx"), quantize), dir);
    }

    private static ModelBuildException Fails(CompressionRecipe recipe, string code)
    {
        var e = Assert.ThrowsAny<ModelBuildException>(() => TestMaterials.Run(recipe));
        Assert.Equal(code, e.Code);
        Assert.False(File.Exists(recipe.Output), "no output may be written on failure");
        Assert.False(string.IsNullOrWhiteSpace(e.Remedy));
        return e;
    }

    [Fact]
    public void Calibration_data_of_the_wrong_shape_says_expected_and_got()
    {
        var (recipe, dir) = Wine();
        recipe.CalibrationData = TestMaterials.SaveNpy(dir, "calib.npy", TestMaterials.Random(10 * 12, 1), 10, 12);
        var e = Fails(recipe, "MB0510");
        Assert.Contains("[10,12]", e.Cause);
        Assert.Contains("[N,13]", e.Cause);
        Assert.Equal(recipe.CalibrationData, e.File);
    }

    [Fact]
    public void Calibration_data_of_the_wrong_dtype_says_expected_and_got()
    {
        var (recipe, dir) = Wine();
        recipe.CalibrationData = TestMaterials.SaveNpy(dir, "calib.npy", new long[10 * 13], 10, 13);
        var e = Fails(recipe, "MB0509");
        Assert.Contains("int64", e.Cause);
        Assert.Contains("float", e.Cause);
    }

    [Fact]
    public void NaN_or_Inf_in_calibration_data_is_refused()
    {
        var (recipe, dir) = Wine();
        var values = TestMaterials.Random(10 * 13, 1);
        values[27] = float.PositiveInfinity;
        recipe.CalibrationData = TestMaterials.SaveNpy(dir, "calib.npy", values, 10, 13);
        var e = Fails(recipe, "MB0503");
        Assert.Contains("sample 2", e.Cause);
    }

    /// <summary>NaN in distillation rows is the data's fault, named with its file and sample (it was MB0305, "lower the learning rate").</summary>
    [Theory]
    [InlineData("training")]
    [InlineData("validation")]
    public void NaN_in_distillation_training_or_validation_data_is_refused_naming_the_file(string which)
    {
        var (recipe, dir) = Wine("none");
        var wine = TestMaterials.Teacher("wine-mlp");
        var values = TestMaterials.Random(20 * 13, 3);
        values[13 * 4 + 5] = float.NaN;
        var bad = TestMaterials.SaveNpy(dir, "nan_x.npy", values, 20, 13);
        recipe.Distill = true;
        recipe.StudentWidth = 0.1;
        recipe.Epochs = 2;
        recipe.TrainingData = which == "training" ? bad : Path.Combine(wine, "train_x.npy");
        recipe.TrainingLabels = which == "training" ? null : Path.Combine(wine, "train_y.npy");
        if (which == "validation") recipe.ValidationData = bad;
        var e = Fails(recipe, "MB0503");
        Assert.Contains("sample 4", e.Cause);
        Assert.Equal(bad, e.File);
    }

    /// <summary>A label that is no class of the model never matches a prediction: it lowered accuracy without a word.</summary>
    [Theory]
    [InlineData(7L, "entry 5 is 7, but 'logits' scores 3 classes (0..2)")]
    [InlineData(-1L, "entry 5 is -1, not a class id >= 0")]
    public void An_evaluation_label_outside_the_models_classes_is_MB0122(long label, string expected)
    {
        var (recipe, dir) = Wine("none");
        var wine = TestMaterials.Teacher("wine-mlp");
        var labels = NpyLabels(Path.Combine(wine, "test_y.npy"));
        labels[5] = label;
        recipe.EvaluationData = Path.Combine(wine, "test_x.npy");
        recipe.EvaluationLabels = TestMaterials.SaveNpy(dir, "bad_y.npy", labels, labels.Length);
        var e = Fails(recipe, "MB0122");
        Assert.Contains(expected, e.Cause);
        Assert.Equal(recipe.EvaluationLabels, e.File);
    }

    private static long[] NpyLabels(string path) => ModelBuild.Compression.Data.DataSource.ReadLabels(path);

    [Fact]
    public void An_empty_calibration_file_is_refused()
    {
        var (recipe, dir) = Wine();
        recipe.CalibrationData = Path.Combine(dir, "empty.npy");
        File.WriteAllBytes(recipe.CalibrationData, []);
        Fails(recipe, "MB0102");
    }

    [Fact]
    public void Zero_samples_of_calibration_data_are_refused()
    {
        var (recipe, dir) = Wine();
        recipe.CalibrationData = TestMaterials.SaveNpy(dir, "calib.npy", Array.Empty<float>(), 0, 13);
        Fails(recipe, "MB0510");
    }

    [Fact]
    public void A_model_with_nothing_quantizable_warns_and_the_output_equals_the_input()
    {
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = Path.Combine(TestMaterials.Shared, "onnx-node-tests", "test_relu", "model.onnx"),
            Output = Path.Combine(dir, "out.onnx"),
            Quantize = "int8-dynamic",
        };
        var report = TestMaterials.Run(recipe);
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0203"));
        Assert.Equal(File.ReadAllBytes(recipe.Teacher), File.ReadAllBytes(recipe.Output));
    }

    [Fact]
    public void Static_int8_without_calibration_data_is_refused()
    {
        var (recipe, _) = Wine();
        recipe.CalibrationData = null;
        Fails(recipe, "MB0204");
    }

    [Fact]
    public void Unknown_form_and_calibration_method_are_refused()
    {
        var (recipe, _) = Wine("int3");
        Fails(recipe, "MB0207");
        var (recipe2, _) = Wine();
        recipe2.CalibrationMethod = "median";
        Fails(recipe2, "MB0201");
    }

    [Fact]
    public void An_old_opset_model_with_an_operator_that_changed_meaning_is_converted()
    {
        // Clip's min/max moved from attributes to inputs at opset 11: the converter rewrites it instead of refusing.
        var dir = TestMaterials.TempDir();
        var model = OnnxModelAccess.Load(Path.Combine(TestMaterials.Teacher("wine-mlp"), "teacher.onnx"));
        model.OpsetImport.Single(o => o.Domain == "").Version = 9;
        var last = model.Graph.Output[0].Name;
        model.Graph.Node.Single(n => n.Output[0] == last).Output[0] = last + "_raw";
        var clip = OnnxModelAccess.Node("Clip", "clip", [last + "_raw"], [last]);
        clip.Attribute.Add(Onnx.Graph.NodeAttributes.Float("min", -50f));
        clip.Attribute.Add(Onnx.Graph.NodeAttributes.Float("max", 50f));
        model.Graph.Node.Add(clip);
        var teacher = Path.Combine(dir, "old.onnx");
        File.WriteAllBytes(teacher, OnnxModelAccess.Serialize(model));
        var (recipe, _) = Wine();
        recipe.Teacher = teacher;
        TestMaterials.Run(recipe);
        var output = OnnxModelAccess.Load(recipe.Output!);
        Assert.Equal(13, OnnxModelAccess.OpsetVersion(output));
        Assert.Equal(3, output.Graph.Node.Single(n => n.OpType == "Clip").Input.Count);
    }

    [Fact]
    public void An_old_opset_operator_without_a_faithful_rewrite_is_refused_naming_the_node()
    {
        // BatchNormalization with spatial=0 (per-element statistics over [N,13,1]) was removed at opset 9.
        var dir = TestMaterials.TempDir();
        var model = OnnxModelAccess.Load(Path.Combine(TestMaterials.Teacher("wine-mlp"), "teacher.onnx"));
        model.OpsetImport.Single(o => o.Domain == "").Version = 8;
        var input = model.Graph.Input[0].Name;
        foreach (var n in model.Graph.Node) for (var i = 0; i < n.Input.Count; i++) if (n.Input[i] == input) n.Input[i] = "bn_flat";
        var unsqueeze = OnnxModelAccess.Node("Unsqueeze", "unsq", [input], ["bn_in"]);
        unsqueeze.Attribute.Add(Onnx.Graph.NodeAttributes.Ints("axes", 2));
        var bn = OnnxModelAccess.Node("BatchNormalization", "per_feature_bn", ["bn_in", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn_out"]);
        bn.Attribute.Add(Onnx.Graph.NodeAttributes.Int("spatial", 0));
        var squeeze = OnnxModelAccess.Node("Squeeze", "sq", ["bn_out"], ["bn_flat"]);
        squeeze.Attribute.Add(Onnx.Graph.NodeAttributes.Ints("axes", 2));
        model.Graph.Node.Insert(0, squeeze);
        model.Graph.Node.Insert(0, bn);
        model.Graph.Node.Insert(0, unsqueeze);
        foreach (var (name, value) in new[] { ("bn_s", 1f), ("bn_b", 0f), ("bn_m", 0f), ("bn_v", 1f) })
            model.Graph.Initializer.Add(OnnxModelAccess.FloatTensor(name, Enumerable.Repeat(value, 13).ToArray(), 13, 1));
        var teacher = Path.Combine(dir, "old.onnx");
        File.WriteAllBytes(teacher, OnnxModelAccess.Serialize(model));
        var (recipe, _) = Wine();
        recipe.Teacher = teacher;
        var e = Fails(recipe, "MB0202");
        Assert.Contains("BatchNormalization (node 'per_feature_bn')", e.Cause);
        Assert.Contains("spatial", e.Cause);
    }

    [Fact]
    public void A_multi_input_model_cannot_be_calibrated_from_one_array()
    {
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = TestMaterials.Model("bert-squad-keras2onnx-tiny"),
            Output = Path.Combine(dir, "out.onnx"),
            Quantize = "int8-static",
            CalibrationData = TestMaterials.SaveNpy(dir, "calib.npy", new long[4 * 7], 4, 7),
        };
        Fails(recipe, "MB0508");
    }

    [Fact]
    public void A_model_onnx_runtime_cannot_load_is_reported()
    {
        var dir = TestMaterials.TempDir();
        var model = OnnxModelAccess.Load(Path.Combine(TestMaterials.Teacher("wine-mlp"), "teacher.onnx"));
        model.Graph.Node[0].OpType = "NoSuchOperator";
        var teacher = Path.Combine(dir, "bad.onnx");
        File.WriteAllBytes(teacher, OnnxModelAccess.Serialize(model));
        var (recipe, _) = Wine();
        recipe.Teacher = teacher;
        Fails(recipe, "MB0507");
    }

    [Fact]
    public void Recipe_errors_are_coded()
    {
        var (recipe, _) = Wine();
        recipe.Output = "";
        Fails(recipe, "MB0511");
        var (recipe2, _) = Wine();
        recipe2.EvaluationData = null;
        Fails(recipe2, "MB0512");
    }

    [Fact]
    public void Gates_fail_with_exit_code_1_write_the_report_and_no_output()
    {
        var (recipe, dir) = Wine("int8-weights");
        recipe.MinAgreement = 101;
        var report = Path.Combine(dir, "r.json");
        var e = Assert.Throws<QualityGateException>(() => TestMaterials.Run(recipe, report));
        Assert.Equal("MB0521", e.Code);
        Assert.Equal(1, e.ExitCode);
        Assert.True(File.Exists(report));
        Assert.False(File.Exists(recipe.Output));

        var (recipe2, _) = Wine("int8-weights");
        recipe2.MaxLatencyMicroseconds = 0.001;
        Assert.Equal("MB0522", Assert.Throws<QualityGateException>(() => TestMaterials.Run(recipe2, latencyRuns: 50)).Code);
    }

    [Fact]
    public void An_unreachable_accuracy_gate_warns_after_repair_and_fails_the_build()
    {
        // A negative allowed drop cannot be met by any model; repair keeps layers float until none is left.
        var (recipe, dir) = Wine();
        recipe.MaxAccuracyDrop = -1;
        recipe.Force = true;
        var log = new StringWriter();
        var e = Assert.Throws<QualityGateException>(() => TestMaterials.Run(recipe, Path.Combine(dir, "r.json"), log: log));
        Assert.Equal("MB0520", e.Code);
        Assert.Contains("MB0206", log.ToString());
    }

    [Fact]
    public void Auto_without_any_data_warns_that_the_accuracy_gate_cannot_be_checked()
    {
        var (recipe, _) = Wine("auto");
        recipe.CalibrationData = recipe.EvaluationData = recipe.EvaluationLabels = null;
        var report = TestMaterials.Run(recipe, latencyRuns: 100);
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0208"));
    }

    [Fact]
    public void The_latency_gate_never_lets_a_measured_slower_form_through_without_force()
    {
        // Holds whatever this CPU measures: the written model is int8-static exactly when int8-static was not measured
        // slower than float; otherwise MB0205 says what replaced it, and what replaced it was not measured slower.
        var (recipe, dir) = Wine();
        var report = TestMaterials.Run(recipe, Path.Combine(dir, "r.json"), latencyRuns: 300);
        var details = TestMaterials.QuantizeDetails(report);
        var candidates = details["candidates"]!.AsArray();
        var s8 = candidates.Single(c => c!["form"]!.GetValue<string>() == "int8-static")!;
        var slower = s8["latencyRatioToFloat"]!.GetValue<double>() > 1.03;
        var written = OnnxModelAccess.Load(recipe.Output);
        Assert.Equal(!slower, details["chosen"]!.GetValue<string>() == "int8-static");
        Assert.Equal(!slower, written.Graph.Node.Any(n => n.OpType == "QuantizeLinear"));
        Assert.Equal(slower, report.Warnings.Any(w => w.StartsWith("MB0205")));
        var chosen = candidates.SingleOrDefault(c => c!["form"]!.GetValue<string>() == details["chosen"]!.GetValue<string>());
        Assert.True(chosen is null ? File.ReadAllBytes(recipe.Output).SequenceEqual(File.ReadAllBytes(recipe.Teacher))
            : chosen["latencyRatioToFloat"]!.GetValue<double>() <= 1.03);
    }
}
