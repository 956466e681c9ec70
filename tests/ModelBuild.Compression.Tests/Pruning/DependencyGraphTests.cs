using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Pruning;

public class DependencyGraphTests(ITestOutputHelper output)
{
    private DependencyGraph Build(OnnxModel model)
    {
        var proto = model.Clone().Proto;
        GraphNormalizer.Normalize(proto);
        var graph = DependencyGraph.Build(proto, TensorShapeProbe.Run(proto));
        foreach (var g in graph.Groups)
        {
            output.WriteLine($"{g}: {string.Join(", ", g.Parameters.Select(p => $"{p.Initializer}@{p.Axis}x{p.UnitSize}+{p.Offset}:{p.Role}"))} edits {string.Join(",", g.ShapeEdits)}");
        }
        return graph;
    }

    [Fact]
    public void Mlp_hidden_layers_are_neuron_groups_and_the_classifier_is_not()
    {
        var graph = Build(PruningMaterials.Teacher("wine-mlp"));
        var prunable = graph.Prunable.ToList();
        Assert.Equal(2, prunable.Count);
        Assert.All(prunable, g => Assert.Equal((PruningUnitKind.Neurons, 256), (g.Kind, g.Units)));
        // First hidden group: rows of 0.weight, 0.bias, columns of 3.weight.
        Assert.Contains(prunable[0].Parameters, p => p is { Initializer: "0.weight", Axis: 0, Role: ParameterRole.OutputWeight });
        Assert.Contains(prunable[0].Parameters, p => p is { Initializer: "0.bias", Axis: 0 });
        Assert.Contains(prunable[0].Parameters, p => p is { Initializer: "3.weight", Axis: 1, Role: ParameterRole.InputWeight });
        var classifier = Assert.Single(graph.Groups, g => !g.IsPrunable);
        Assert.Contains("model output", classifier.NotPrunableReason);
    }

    [Fact]
    public void Cnn_channels_flow_through_pooling_and_the_flatten_into_the_gemm()
    {
        var graph = Build(PruningMaterials.Model("mnist-cnn-pytorch"));
        var conv2 = Assert.Single(graph.Prunable, g => g.Parameters.Any(p => p.Initializer == "conv2.weight" && p.Axis == 0));
        Assert.Equal(PruningUnitKind.Channels, conv2.Kind);
        Assert.Equal(20, conv2.Units);
        // conv2's 20 channels x 4 x 4 reach fc1 as 320 features: 16 columns per channel, and the Reshape constant shrinks.
        Assert.Contains(conv2.Parameters, p => p is { Initializer: "fc1.weight", Axis: 1, UnitSize: 16 });
        Assert.Single(conv2.ShapeEdits);
        Assert.Contains(graph.Prunable, g => g.Units == 10 && g.Parameters.Any(p => p.Initializer == "conv2.weight" && p.Axis == 1));
        Assert.Contains(graph.Prunable, g => g.Units == 50 && g.Kind == PruningUnitKind.Neurons);
    }

    [Fact]
    public void Mnist8_bias_adds_and_the_folded_matmul_weight_are_coupled()
    {
        var graph = Build(PruningMaterials.Model("mnist-8"));
        Assert.Equal(2, graph.Prunable.Count(g => g.Kind == PruningUnitKind.Channels));
        var second = Assert.Single(graph.Prunable, g => g.Units == 16);
        Assert.Contains(second.Parameters, p => p is { Initializer: "Parameter88", Axis: 0, Role: ParameterRole.Bias });
        Assert.Contains(second.Parameters, p => p is { Axis: 0, UnitSize: 16, Role: ParameterRole.InputWeight });
    }

    [Fact]
    public void Transformer_attention_is_pruned_by_whole_heads_and_the_ffn_by_neurons()
    {
        var graph = Build(PruningMaterials.Teacher("synthetic-intent-transformer"));
        var heads = graph.Prunable.Where(g => g.Kind == PruningUnitKind.Heads).ToList();
        Assert.Equal(2, heads.Count);
        foreach (var g in heads)
        {
            Assert.Equal(4, g.Units);
            Assert.Equal(32, g.Root.UnitSize);
            // Q, K, V, output projection weights and the three Reshape constants carrying the head count [-1,32,4,32] / [-1,32,128].
            Assert.Equal(4, g.Parameters.Count(p => p.Role is ParameterRole.OutputWeight or ParameterRole.InputWeight));
            Assert.Equal(4, g.ShapeEdits.Count);
        }
        var ffn = graph.Prunable.Where(g => g.Kind == PruningUnitKind.Neurons).ToList();
        Assert.Equal(2, ffn.Count);
        Assert.All(ffn, g => Assert.Equal(512, g.Units));
        var hidden = Assert.Single(graph.Groups, g => g.Kind == PruningUnitKind.HiddenSize);
        Assert.True(hidden.IsPrunable, hidden.NotPrunableReason);
        Assert.Contains(hidden.Parameters, p => p.Role == ParameterRole.Embedding);
    }
}
