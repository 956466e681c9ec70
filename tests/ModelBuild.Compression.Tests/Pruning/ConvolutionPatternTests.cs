using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Pruning;

public class ConvolutionPatternTests(ITestOutputHelper output)
{
    [Fact]
    public void Residual_add_couples_producers_depthwise_follows_its_input_and_concat_shifts_offsets()
    {
        var model = SyntheticGraphs.ResidualDepthwiseConcat();
        var proto = model.Clone().Proto;
        GraphNormalizer.Normalize(proto);
        var graph = DependencyGraph.Build(proto, TensorShapeProbe.Run(proto));
        foreach (var g in graph.Groups)
        {
            output.WriteLine($"{g}: {string.Join(", ", g.Parameters.Select(p => $"{p.Initializer}@{p.Axis}x{p.UnitSize}+{p.Offset}"))}");
        }
        var stem = Assert.Single(graph.Prunable, g => g.Name == "convA");
        // One group: convA rows, both BatchNorms, the depthwise conv (and its group count), convB in AND out
        // (residual), convC input, convD input at offset 0 of the concat.
        Assert.Equal(8, stem.Units);
        Assert.Contains(stem.Parameters, p => p is { Initializer: "dw.w", Axis: 0 });
        Assert.Contains(stem.Parameters, p => p is { Initializer: "bnDw.scale", Axis: 0 });
        Assert.Contains(stem.Parameters, p => p is { Initializer: "convB.w", Axis: 0 });
        Assert.Contains(stem.Parameters, p => p is { Initializer: "convB.w", Axis: 1 });
        Assert.Contains(stem.Parameters, p => p is { Initializer: "convD.w", Axis: 1, Offset: 0 });
        Assert.Single(stem.ConvGroupEdits);
        var branch = Assert.Single(graph.Prunable, g => g.Name == "convC");
        Assert.Contains(branch.Parameters, p => p is { Initializer: "convD.w", Axis: 1, Offset: 8 });
        Assert.DoesNotContain(graph.Groups, g => g.Name == "convB"); // covered by the stem's group

        var result = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5 });
        Assert.Equal(new[] { ("convA", 8, 4), ("convC", 4, 2), ("convD", 6, 3) }, result.Pruned.Select(g => (g.Name, g.UnitsBefore, g.UnitsAfter)));
        var dw = result.Model.Proto.Graph.Node.Single(n => n.Name == "dw");
        Assert.Equal(4, dw.Attribute.Single(a => a.Name == "group").I);
        PrunedShapeCheck.AssertInfersConsistently(result.Model);

        var x = PruningMaterials.Floats(Enumerable.Range(0, 2 * 3 * 8 * 8).Select(i => (float)Math.Cos(i * 0.11)).ToArray(), 2, 3, 8, 8);
        var (got, _) = PruningMaterials.Logits(result.Model, x);
        var (want, _) = PruningMaterials.Logits(MaskedReference.Build(model, result), x);
        Assert.True(got.Zip(want, (p, q) => Math.Abs(p - q)).Max() < 1e-5);
    }
}
