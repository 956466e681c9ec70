using ModelBuild.Compression.Structure;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// Finds the repeatable blocks of a network without attention: residual blocks whose output has their input's shape
/// (ResNet basic blocks), and, outside them, Conv [-> BatchNormalization] [-> activation] chains whose output has
/// their input's shape (a 3x3 'same' Conv from C to C channels). Consecutive identical blocks (one's output is the
/// next one's input, same operators and weight shapes) form one <see cref="LayerRun"/>. A block that changes the
/// shape (a strided or unpadded Conv, a channel change) cannot be dropped without changing what follows it.
/// </summary>
public static class SameShapeBlockFinder
{
    static readonly HashSet<string> Activations = new(StringComparer.Ordinal) { "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus", "Gelu" };

    public static IReadOnlyList<LayerRun> Find(ModelProto model, IReadOnlyDictionary<string, long[]> shapes)
    {
        var graph = new OnnxGraph(model.Graph);
        var blocks = new List<(string Input, string Output, string Kind, string Signature)>();
        var covered = new HashSet<NodeProto>();
        foreach (var r in ResidualBlockFinder.FindBlocks(model).Where(b => !b.HasAttention))
        {
            // A post-activation block (ResNet: relu(x + f(x))) ends after the activation that follows its Add.
            string end = r.Output;
            var nodes = r.Nodes.ToList();
            while (graph.GetConsumers(end) is [var act] && Activations.Contains(act.OpType) && !model.Graph.Output.Any(o => o.Name == end))
            {
                nodes.Add(act);
                end = act.Output[0];
            }
            if (!SameShape(shapes, r.Input, end)) continue;
            blocks.Add((r.Input, end, "residual block", TransformerLayerFinder.Signature(r, model) + string.Concat(nodes.Skip(r.Nodes.Count).Select(n => "," + n.OpType))));
            covered.UnionWith(nodes);
        }
        var initializers = model.Graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        foreach (var conv in graph.TopologicalOrder().Where(n => n.OpType == "Conv" && !covered.Contains(n)))
        {
            if (conv.Input.Count < 2 || !initializers.ContainsKey(conv.Input[1])) continue;
            var chain = new List<NodeProto> { conv };
            var last = conv;
            while (graph.GetConsumers(last.Output[0]) is [var next] && !covered.Contains(next) && !model.Graph.Output.Any(o => o.Name == last.Output[0])
                   && (next.OpType == "BatchNormalization" || Activations.Contains(next.OpType)) && chain.All(n => n.OpType != next.OpType))
            {
                chain.Add(next);
                last = next;
            }
            if (!SameShape(shapes, conv.Input[0], last.Output[0])) continue;
            var signature = string.Join(",", chain.Select(n => n.OpType + "(" + string.Join(";", n.Input.Where(initializers.ContainsKey).Select(i => string.Join("x", initializers[i].Dims))) + ")"))
                + string.Join(";", conv.Attribute.OrderBy(a => a.Name, StringComparer.Ordinal).Select(a => a.ToString()));
            blocks.Add((conv.Input[0], last.Output[0], "same-shape Conv block", signature));
        }

        // Chain blocks into runs of identical consecutive blocks.
        var byInput = blocks.GroupBy(b => b.Input).Where(g => g.Count() == 1).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var runs = new List<LayerRun>();
        foreach (var first in blocks)
        {
            // A run starts at a block that does not continue an identical predecessor.
            if (blocks.Any(b => b.Output == first.Input && b.Signature == first.Signature)) continue;
            var inputs = new List<string> { first.Input };
            var current = first;
            while (byInput.TryGetValue(current.Output, out var next) && next.Signature == first.Signature)
            {
                inputs.Add(next.Input);
                current = next;
            }
            runs.Add(new LayerRun(first.Kind, inputs, current.Output));
        }
        return runs;
    }

    static bool SameShape(IReadOnlyDictionary<string, long[]> shapes, string a, string b) =>
        shapes.TryGetValue(a, out var x) && shapes.TryGetValue(b, out var y) && x.SequenceEqual(y);
}
