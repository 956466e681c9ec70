using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx.Diagnostics;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Pruning;

public class DepthPrunerTests(ITestOutputHelper output)
{
    [Fact]
    public void Transformer_layers_are_found_as_attention_plus_ffn_blocks()
    {
        var proto = PruningMaterials.Teacher("synthetic-intent-transformer").Clone().Proto;
        GraphNormalizer.Normalize(proto);
        var blocks = ResidualBlockFinder.FindBlocks(proto);
        Assert.Equal(new[] { "/blocks.0/Add_1", "/blocks.0/Add_3", "/blocks.1/Add_1", "/blocks.1/Add_3" }, blocks.Select(b => b.Name));
        Assert.Equal(new[] { true, false, true, false }, blocks.Select(b => b.HasAttention));
        var layers = ResidualBlockFinder.FindLayers(proto);
        Assert.Equal(2, layers.Count);
        Assert.Equal(("/Add_output_0", "/blocks.0/Add_3_output_0"), (layers[0].Input, layers[0].Output));
        // The padding mask feeds both layers' attention but belongs to neither.
        Assert.DoesNotContain(layers[0].Nodes, n => n.Name == "/Unsqueeze_1");
    }

    [Fact]
    public void Dropping_one_transformer_layer_removes_its_weights_and_runs_in_ort()
    {
        var model = PruningMaterials.Teacher("synthetic-intent-transformer");
        var calib = PruningMaterials.TeacherData("synthetic-intent-transformer", "calib_x.npy");
        var result = DepthPruner.Prune(model, new DepthPruningOptions { LayersToRemove = 1, CalibrationData = calib, CalibrationSamples = 64 });
        foreach (var l in result.Layers)
        {
            output.WriteLine($"{l.Name}: influence {l.Influence:F4} removed {l.Removed}");
        }
        Assert.Single(result.Layers, l => l.Removed);
        Assert.All(result.Layers, l => Assert.InRange(l.Influence, 0, 2));
        var removed = result.Layers.Single(l => l.Removed);
        Assert.Equal(result.Layers.Min(l => l.Influence), removed.Influence);
        string prefix = removed.Name.StartsWith("/blocks.0", StringComparison.Ordinal) ? "blocks.0." : "blocks.1.";
        Assert.DoesNotContain(result.Model.Proto.Graph.Initializer, t => t.Name.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(result.ParametersAfter < result.ParametersBefore - 190_000);
        Assert.True(result.FlopsAfter < result.FlopsBefore * 0.6);
        var x = MnistReader.Rows(PruningMaterials.TeacherData("synthetic-intent-transformer", "test_x.npy"), 0, 16);
        Assert.Equal(16 * 12, PruningMaterials.Logits(result.Model, x).Values.Length);
        PrunedShapeCheck.AssertInfersConsistently(result.Model);
    }

    [Fact]
    public void Dropping_the_only_residual_block_is_MB0406()
    {
        var model = SyntheticGraphs.ResidualDepthwiseConcat();
        var x = PruningMaterials.Floats(Enumerable.Range(0, 2 * 3 * 8 * 8).Select(i => (float)Math.Cos(i * 0.11)).ToArray(), 2, 3, 8, 8);
        // One residual block only: at least one layer must stay.
        var e = Assert.Throws<ModelBuildException>(() => DepthPruner.Prune(model, new DepthPruningOptions { LayersToRemove = 1, CalibrationData = x }));
        Assert.Equal("MB0406", e.Code);
    }

    [Fact]
    public void A_model_without_residual_blocks_warns_MB0402()
    {
        var result = DepthPruner.Prune(PruningMaterials.Teacher("wine-mlp"), new DepthPruningOptions { LayersToRemove = 1 });
        Assert.False(result.Changed);
        ModelBuild.TestSupport.ProducedCodes.Observe(string.Join("\n", result.Warnings)); // the pruner's own warnings
        Assert.Contains(result.Warnings, w => w.Contains("MB0402"));
    }
}
