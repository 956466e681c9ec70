using Microsoft.ML.OnnxRuntime;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tests.Infrastructure;
using Onnx;

namespace ModelBuild.Onnx.Tests;

public sealed class OnnxGraphTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string Wine => Path.Combine(SharedMaterials.Teachers, "wine-mlp", "teacher.onnx");

    [Fact]
    public void Producers_consumers_and_initializers_of_a_real_mlp()
    {
        var model = OnnxModel.Load(Wine);
        var graph = model.Graph;
        var gemm = graph.Nodes.First(n => n.OpType == "Gemm");
        Assert.Same(gemm, graph.GetProducer(gemm.Output[0]));
        Assert.Null(graph.GetProducer("input"));
        var consumers = graph.GetConsumers(gemm.Output[0]);
        Assert.Equal("Relu", Assert.Single(consumers).OpType);
        Assert.Contains(gemm, graph.GetConsumers("input"));
        Assert.True(graph.TryGetInitializer(gemm.Input[1], out var weight));
        Assert.Equal(new long[] { 256, 13 }, weight.Dims);
        Assert.Null(graph.GetInitializer("no-such-tensor"));
        Assert.True(graph.IsGraphInput("input"));
        Assert.True(graph.IsGraphOutput("logits"));
        Assert.Equal("input", Assert.Single(graph.RealInputs()).Name);
        Assert.NotNull(graph.GetValueInfo("logits"));
    }

    [Fact]
    public void Topological_order_restores_a_shuffled_transformer()
    {
        var model = OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "synthetic-intent-transformer", "teacher.onnx"));
        var original = model.GraphProto.Node.ToList();
        var shuffled = original.ToArray();
        new Random(5).Shuffle(shuffled);
        model.GraphProto.Node.Clear();
        model.GraphProto.Node.AddRange(shuffled);
        model.InvalidateGraph();
        var order = model.Graph.TopologicalOrder();
        Assert.Equal(original.Count, order.Count);
        var available = new HashSet<string>(model.GraphProto.Input.Select(i => i.Name).Concat(model.GraphProto.Initializer.Select(i => i.Name)));
        foreach (var node in order)
        {
            Assert.All(node.Input.Where(i => i.Length > 0), i => Assert.Contains(i, available));
            foreach (var o in node.Output) available.Add(o);
        }
        // Sorting in place gives a model ORT runs.
        model.Graph.SortTopologically();
        string path = _temp.File("sorted.onnx");
        model.Save(path);
        using var session = new InferenceSession(path);
        Assert.Equal("logits", Assert.Single(session.OutputNames));
    }

    [Fact]
    public void A_cycle_is_MB0022()
    {
        var model = OnnxModel.Load(Wine);
        var nodes = model.GraphProto.Node;
        // Feed the last node's output back into the first node.
        nodes[0].Input[0] = nodes[^1].Output[0];
        model.InvalidateGraph();
        var e = Assert.Throws<ModelBuildException>(() => model.Graph.TopologicalOrder());
        Assert.Equal("MB0022", e.Code);
        Assert.Contains(model.DisplayName, e.Message);
    }

    [Fact]
    public void Unique_names_never_repeat()
    {
        var graph = OnnxModel.Load(Wine).Graph;
        string taken = graph.Nodes[0].Output[0];
        string a = graph.MakeUniqueName(taken);
        string b = graph.MakeUniqueName(taken);
        Assert.NotEqual(taken, a);
        Assert.NotEqual(a, b);
        Assert.Equal("fresh", graph.MakeUniqueName("fresh"));
        Assert.Equal("fresh_1", graph.MakeUniqueName("fresh"));
    }

    [Fact]
    public void Inserting_and_removing_nodes_keeps_the_model_runnable_and_equivalent()
    {
        var model = OnnxModel.Load(Wine);
        var graph = model.Graph;
        var gemm = graph.Nodes.First(n => n.OpType == "Gemm");
        string before = gemm.Output[0];
        // Gemm -> Identity -> (old consumers): rewire the consumers to read the Identity output.
        string identityOut = graph.MakeUniqueName(before + "_identity");
        var identity = new NodeProto { OpType = "Identity", Name = gemm.Name };
        identity.Input.Add(before);
        identity.Output.Add(identityOut);
        var consumers = graph.GetConsumers(before).ToList();
        graph.InsertNodeAfter(gemm, identity);
        Assert.NotEqual(gemm.Name, identity.Name); // the clashing name was made unique
        foreach (var consumer in consumers)
        {
            for (int i = 0; i < consumer.Input.Count; i++)
            {
                if (consumer.Input[i] == before) consumer.Input[i] = identityOut;
            }
        }
        graph.Invalidate();
        Assert.Same(identity, graph.GetProducer(identityOut));
        Assert.Equal(consumers, graph.GetConsumers(identityOut));

        string edited = _temp.File("edited.onnx");
        model.Save(edited);
        var inputs = ModelInputs.For(model, Wine);
        Assert.Equal(OrtRunner.Run(Wine, inputs), OrtRunner.Run(edited, inputs));

        // Remove it again: the consumers go back to the Gemm output.
        Assert.Equal(consumers.Count, graph.ReplaceAllUses(identityOut, before));
        Assert.True(graph.RemoveNode(identity));
        model.Save(edited);
        Assert.Equal(OrtRunner.Run(Wine, inputs), OrtRunner.Run(edited, inputs));
    }

    [Fact]
    public void Unused_nodes_and_initializers_are_removed()
    {
        var model = OnnxModel.Load(Wine);
        var graph = model.Graph;
        graph.AddInitializer(Tensors.TensorData.Create(graph.MakeUniqueName("dead_weight"), new float[] { 1, 2 }, 2));
        graph.AddNode("Relu", new[] { "input" }, outputPrefix: "dead");
        int count = model.GraphProto.Node.Count;
        Assert.Equal(2, graph.RemoveUnusedNodesAndInitializers());
        Assert.Equal(count - 1, model.GraphProto.Node.Count);
        Assert.Equal(70_147, model.ParameterCount);
    }
}
