using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Pruning;

[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public class StructuredPrunerTests(ITestOutputHelper output)
{
    /// <summary>Prunes, then checks the pruned graph runs in ORT and matches the masked original on <paramref name="x"/>.</summary>
    private PruningResult PruneAndCheck(OnnxModel model, PruningOptions options, DataTensor x)
    {
        var result = StructuredPruner.Prune(model, options);
        foreach (var g in result.Pruned)
        {
            output.WriteLine($"pruned {g.Name} {g.Kind}: {g.UnitsBefore} -> {g.UnitsAfter} (unit {g.UnitSize})");
        }
        foreach (var s in result.Skipped)
        {
            output.WriteLine($"skipped {s.Name} {s.Kind}: {s.Reason}");
        }
        output.WriteLine($"params {result.ParametersBefore} -> {result.ParametersAfter}, FLOPs {result.FlopsBefore} -> {result.FlopsAfter}");
        Assert.True(result.Changed);
        Assert.True(result.ParametersAfter < result.ParametersBefore);
        Assert.True(result.FlopsAfter < result.FlopsBefore);
        // Same operators and opset: structured pruning only shrinks tensors.
        Assert.Equal(model.Proto.OpsetImport.ToString(), result.Model.Proto.OpsetImport.ToString());

        PrunedShapeCheck.AssertInfersConsistently(result.Model);
        var reloaded = OnnxModel.Load(result.Model.ToBytes(), Path.GetTempPath());
        var (got, classes) = PruningMaterials.Logits(reloaded, x);
        var (want, refClasses) = PruningMaterials.Logits(MaskedReference.Build(model, result), x);
        Assert.Equal(refClasses, classes);
        double maxDiff = got.Zip(want, (a, b) => Math.Abs(a - b)).Max();
        double scale = want.Max(Math.Abs);
        output.WriteLine($"max |pruned - masked| = {maxDiff} (scale {scale})");
        Assert.True(maxDiff <= 1e-4 * Math.Max(1, scale), $"pruned graph differs from the masked original by {maxDiff}");
        return result;
    }

    [Theory]
    [InlineData("wine-mlp")]
    [InlineData("breast-cancer-mlp")]
    public void Mlp_teacher_pruned_90_percent_matches_the_masked_teacher(string teacher)
    {
        var model = PruningMaterials.Teacher(teacher);
        var x = PruningMaterials.TeacherData(teacher, "test_x.npy");
        var result = PruneAndCheck(model, new PruningOptions { Fraction = 0.9 }, x);
        Assert.Equal(2, result.Pruned.Count);
        Assert.All(result.Pruned, g => Assert.Equal((256, 26), (g.UnitsBefore, g.UnitsAfter)));
        Assert.True(result.ParametersAfter <= 0.10 * result.ParametersBefore);
    }

    [Theory]
    [InlineData(ImportanceCriterion.L1)]
    [InlineData(ImportanceCriterion.L2)]
    [InlineData(ImportanceCriterion.Activation)]
    [InlineData(ImportanceCriterion.Taylor)]
    public void Iris_mlp_prunes_with_each_criterion(ImportanceCriterion criterion)
    {
        var model = PruningMaterials.Model("iris-mlp-pytorch");
        var x = PruningMaterials.Floats(Enumerable.Range(0, 40).Select(i => (float)Math.Sin(i * 0.37) * 2).ToArray(), 10, 4);
        var result = PruneAndCheck(model, new PruningOptions { Fraction = 0.5, Criterion = criterion, CalibrationData = x }, x);
        Assert.All(result.Pruned, g => Assert.Equal((24, 12), (g.UnitsBefore, g.UnitsAfter)));
    }

    [Fact]
    public void Criteria_rank_units_differently_and_l2_keeps_the_largest_rows()
    {
        var model = PruningMaterials.Teacher("wine-mlp");
        var l1 = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5, Criterion = ImportanceCriterion.L1 });
        var act = StructuredPruner.Prune(model, new PruningOptions
        {
            Fraction = 0.5, Criterion = ImportanceCriterion.Activation, CalibrationData = PruningMaterials.TeacherData("wine-mlp", "calib_x.npy"),
        });
        Assert.NotEqual(l1.Pruned[0].RemovedUnits, act.Pruned[0].RemovedUnits);
    }

    [Fact]
    public void Cnn_half_the_channels_match_the_masked_model()
    {
        var (x, _) = PruningMaterials.MnistT10k();
        var sample = MnistReader.Rows(x, 0, 20);
        var result = PruneAndCheck(PruningMaterials.Model("mnist-cnn-pytorch"),
            new PruningOptions { Fraction = 0.5, Kinds = new HashSet<PruningUnitKind> { PruningUnitKind.Channels } }, sample);
        Assert.Equal(new[] { (10, 5), (20, 10) }, result.Pruned.Select(g => (g.UnitsBefore, g.UnitsAfter)));
    }

    [Fact]
    public void Mnist8_with_initializers_as_inputs_and_a_runtime_reshape_of_its_weight()
    {
        var (x, _) = PruningMaterials.MnistT10k();
        var raw = PruningMaterials.Floats(MnistReader.Rows(x, 0, 10).Floats!.Select(v => (v * 0.3081f + 0.1307f) * 255f).ToArray(), 10, 1, 28, 28);
        PruneAndCheck(PruningMaterials.Model("mnist-8"), new PruningOptions { Fraction = 0.5 }, raw);
    }

    [Fact]
    public void Cifar10_cnn_with_padding_and_a_flatten_into_the_classifier()
    {
        var x = PruningMaterials.Floats(Enumerable.Range(0, 4 * 3 * 32 * 32).Select(i => (float)Math.Sin(i * 0.013)).ToArray(), 4, 3, 32, 32);
        var result = PruneAndCheck(PruningMaterials.Model("cifar10-cnn-pytorch"), new PruningOptions { Fraction = 0.5 }, x);
        Assert.Equal(4, result.Pruned.Count);
    }

    [Fact]
    public void Transformer_half_the_heads_and_ffn_neurons_match_the_masked_model()
    {
        var model = PruningMaterials.Teacher("synthetic-intent-transformer");
        var x = MnistReader.Rows(PruningMaterials.TeacherData("synthetic-intent-transformer", "test_x.npy"), 0, 32);
        var result = PruneAndCheck(model, new PruningOptions { Fraction = 0.5 }, x);
        Assert.Equal(2, result.Pruned.Count(g => g is { Kind: PruningUnitKind.Heads, UnitsBefore: 4, UnitsAfter: 2 }));
        Assert.Equal(2, result.Pruned.Count(g => g is { Kind: PruningUnitKind.Neurons, UnitsBefore: 512, UnitsAfter: 256 }));
        Assert.Contains(result.Skipped, s => s.Kind == PruningUnitKind.HiddenSize);
    }

    [Fact]
    public void Transformer_hidden_size_prunes_embeddings_layernorms_and_every_projection()
    {
        var model = PruningMaterials.Teacher("synthetic-intent-transformer");
        var result = StructuredPruner.Prune(model, new PruningOptions
        {
            Fraction = 0.25, Kinds = new HashSet<PruningUnitKind> { PruningUnitKind.HiddenSize },
        });
        var hidden = Assert.Single(result.Pruned);
        Assert.Equal((128, 96), (hidden.UnitsBefore, hidden.UnitsAfter));
        var x = MnistReader.Rows(PruningMaterials.TeacherData("synthetic-intent-transformer", "test_x.npy"), 0, 8);
        Assert.Equal(8 * 12, PruningMaterials.Logits(result.Model, x).Values.Length);
        PrunedShapeCheck.AssertInfersConsistently(result.Model);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.5)]
    [InlineData(double.NaN)]
    public void Fraction_outside_zero_one_is_MB0401(double fraction)
    {
        var e = Assert.Throws<ModelBuildException>(() => StructuredPruner.Prune(PruningMaterials.Teacher("wine-mlp"), new PruningOptions { Fraction = fraction }));
        Assert.Equal("MB0401", e.Code);
    }

    [Fact]
    public void Nothing_prunable_warns_MB0402_lists_the_candidates_and_returns_the_model_unchanged()
    {
        var model = PruningMaterials.Teacher("wine-mlp");
        var result = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5, Exclude = new[] { "/0/Gemm", "/3/Gemm" } });
        Assert.False(result.Changed);
        ModelBuild.TestSupport.ProducedCodes.Observe(string.Join("\n", result.Warnings)); // the pruner's own warnings
        var warning = Assert.Single(result.Warnings, w => w.Contains("MB0402"));
        Assert.Contains("/6/Gemm", warning);
        Assert.Contains("model output", warning);
        Assert.Equal(model.ToBytes(), result.Model.ToBytes());
        Assert.Equal(2, result.Skipped.Count(s => s.Reason.StartsWith("excluded")));
    }

    [Fact]
    public void Exclude_pattern_matching_nothing_is_MB0404()
    {
        var e = Assert.Throws<ModelBuildException>(() => StructuredPruner.Prune(PruningMaterials.Teacher("wine-mlp"),
            new PruningOptions { Exclude = new[] { "/blocks.9/*" } }));
        Assert.Equal("MB0404", e.Code);
    }

    [Fact]
    public void Activation_criterion_without_data_is_MB0405()
    {
        var e = Assert.Throws<ModelBuildException>(() => StructuredPruner.Prune(PruningMaterials.Teacher("wine-mlp"),
            new PruningOptions { Criterion = ImportanceCriterion.Activation }));
        Assert.Equal("MB0405", e.Code);
    }

    [Fact]
    public void Calibration_data_of_the_wrong_shape_is_MB0407()
    {
        var wrong = PruningMaterials.Floats(new float[5 * 7], 5, 7);
        var e = Assert.Throws<ModelBuildException>(() => StructuredPruner.Prune(PruningMaterials.Teacher("wine-mlp"),
            new PruningOptions { Criterion = ImportanceCriterion.Activation, CalibrationData = wrong }));
        Assert.Equal("MB0407", e.Code);
        Assert.Contains("13", e.Cause);
    }

    [Fact]
    public void Pruning_is_deterministic()
    {
        var model = PruningMaterials.Model("mnist-cnn-pytorch");
        var a = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5 }).Model.ToBytes();
        var b = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5 }).Model.ToBytes();
        Assert.Equal(a, b);
    }
}

[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public class UnrewritableGroupTests
{
    [Fact]
    public void A_group_that_cannot_be_rewritten_is_left_as_is_listed_and_warned_MB0403()
    {
        var model = SyntheticGraphs.MlpWithSoftmaxOverHiddenUnits();
        var result = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5 });
        var skipped = Assert.Single(result.Skipped, s => s.Name == "fc1");
        Assert.Contains("Softmax", skipped.Reason);
        ModelBuild.TestSupport.ProducedCodes.Observe(string.Join("\n", result.Warnings)); // the pruner's own warnings
        Assert.Contains(result.Warnings, w => w.Contains("MB0403") && w.Contains("fc1"));
        var pruned = Assert.Single(result.Pruned);
        Assert.Equal(("fc2", 8, 4), (pruned.Name, pruned.UnitsBefore, pruned.UnitsAfter));
        var fc1 = result.Model.Proto.Graph.Initializer.Single(t => t.Name == "fc1.w");
        Assert.Equal(new long[] { 16, 4 }, fc1.Dims);
    }
}

[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public class UnstructuredPruningTests
{
    [Fact]
    public void Magnitude_pruning_zeroes_the_smallest_weights_per_layer_and_keeps_shapes()
    {
        var model = PruningMaterials.Teacher("wine-mlp");
        var result = UnstructuredMagnitudePruner.Prune(model, 0.8);
        Assert.Equal(new[] { "0.weight", "3.weight", "6.weight" }, result.Tensors);
        Assert.InRange(result.Sparsity, 0.79, 0.81);
        Assert.Equal(model.ParameterCount, result.Model.ParameterCount);
        var before = ModelBuild.Onnx.Tensors.TensorData.ToSingleArray(model.Proto.Graph.Initializer.Single(t => t.Name == "3.weight"));
        var after = ModelBuild.Onnx.Tensors.TensorData.ToSingleArray(result.Model.Proto.Graph.Initializer.Single(t => t.Name == "3.weight"));
        float largestZeroed = before.Where((v, i) => after[i] == 0).Max(Math.Abs);
        float smallestKept = before.Where((v, i) => after[i] != 0).Min(Math.Abs);
        Assert.True(largestZeroed <= smallestKept);
        Assert.Throws<ModelBuildException>(() => UnstructuredMagnitudePruner.Prune(model, 1.5));
    }

    [Fact]
    public void Unstructured_schedule_reports_sparsity_compressed_size_and_the_latency_note()
    {
        var model = PruningMaterials.Teacher("breast-cancer-mlp");
        var result = PruningSchedule.Run(model, new PruningScheduleOptions
        {
            Pruning = new PruningOptions { Fraction = 0.9 },
            Mode = PruningMode.Unstructured,
            Steps = 2,
            Evaluator = new ModelEvaluator(PruningMaterials.TeacherData("breast-cancer-mlp", "test_x.npy"), PruningMaterials.TeacherData("breast-cancer-mlp", "test_y.npy")),
            LatencyRuns = 20,
        });
        var first = result.Steps[0];
        var last = result.Steps[^1];
        Assert.Equal(first.Parameters, last.Parameters);
        Assert.Equal(first.Flops, last.Flops);
        Assert.True(last.NonZeroParameters < 0.15 * first.Parameters);
        Assert.True(last.CompressedBytes < 0.5 * first.CompressedBytes);
        Assert.NotNull(last.LatencyMicroseconds);
        Assert.Contains("latency does not improve", result.ToMarkdown());
        var json = result.ToJson();
        Assert.Equal("unstructured", (string?)json["mode"]);
        Assert.Equal(3, json["steps"]!.AsArray().Count);
        Assert.Equal(last.NonZeroParameters, (long)json["steps"]![2]!["nonZeroParameters"]!);
    }

    /// <summary>A recovery that changes nothing and says it revived a class on steps 1 and 2.</summary>
    private sealed class RevivingRecovery : IPruningRecovery
    {
        public string Description => "test";
        public IReadOnlyList<string> LastRevivedOutputs { get; private set; } = [];
        public OnnxModel Recover(OnnxModel pruned, int step)
        {
            LastRevivedOutputs = [$"before epoch 1: class {step} (step {step})"];
            return pruned;
        }
    }

    [Fact]
    public void Each_step_reports_the_classes_its_recovery_revived()
    {
        var result = PruningSchedule.Run(PruningMaterials.Teacher("wine-mlp"), new PruningScheduleOptions
        {
            Pruning = new PruningOptions { Fraction = 0.5 },
            Steps = 2,
            Recovery = new RevivingRecovery(),
        });
        var steps = result.ToJson()["steps"]!.AsArray();
        Assert.Null(steps[0]!["revivedOutputs"]);
        Assert.Equal("before epoch 1: class 1 (step 1)", (string?)steps[1]!["revivedOutputs"]![0]);
        Assert.Equal("before epoch 1: class 2 (step 2)", (string?)steps[2]!["revivedOutputs"]![0]);
    }

    [Fact]
    public void Steps_outside_range_are_MB0406()
    {
        var e = Assert.Throws<ModelBuildException>(() => PruningSchedule.Run(PruningMaterials.Teacher("wine-mlp"),
            new PruningScheduleOptions { Steps = 0 }));
        Assert.Equal("MB0406", e.Code);
    }
}

[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public class UnitSelectionTests
{
    [Fact]
    public void Global_ranking_removes_the_overall_fraction_and_keeps_a_unit_in_every_group()
    {
        var model = PruningMaterials.Model("cifar10-cnn-pytorch");
        var result = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5, GlobalRanking = true });
        int before = result.Pruned.Sum(g => g.UnitsBefore), after = result.Pruned.Sum(g => g.UnitsAfter);
        Assert.Equal(72, before);
        Assert.Equal(36, after);
        Assert.All(result.Pruned, g => Assert.True(g.UnitsAfter >= 1));
        // Global ranking does not force the same ratio on every layer.
        Assert.NotEqual(new[] { 6, 6, 12, 12 }, result.Pruned.Select(g => g.UnitsAfter));
    }

    [Fact]
    public void Keep_units_overrides_the_fraction_per_group()
    {
        var result = StructuredPruner.Prune(PruningMaterials.Teacher("wine-mlp"), new PruningOptions
        {
            Fraction = 0.5, KeepUnits = new Dictionary<string, int> { ["/0/Gemm"] = 7 },
        });
        Assert.Equal(new[] { 7, 128 }, result.Pruned.Select(g => g.UnitsAfter));
    }
}
