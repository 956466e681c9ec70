using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Structure;

/// <summary>
/// Finds residual blocks: an Add (or two-input Sum) whose one input (the skip) is an ancestor of the other
/// (the branch), where every node between them is read only inside the branch. In a pre-norm transformer an
/// attention block followed by an FFN block whose skip is the attention block's output form one layer.
/// </summary>
public static class ResidualBlockFinder
{
    /// <summary>Single residual branches, in graph order.</summary>
    public static IReadOnlyList<ResidualBlock> FindBlocks(ModelProto model)
    {
        var graph = new OnnxGraph(model.Graph);
        var order = graph.TopologicalOrder();
        var outputs = model.Graph.Output.Select(o => o.Name).ToHashSet();
        var blocks = new List<ResidualBlock>();
        foreach (var add in order.Where(n => n.OpType is "Add" or "Sum" && n.Input.Count == 2))
        {
            for (int side = 0; side < 2; side++)
            {
                string skip = add.Input[side], branch = add.Input[1 - side];
                var between = Between(graph, skip, branch);
                if (between is null || between.Count == 0)
                {
                    continue;
                }
                var inside = between.Append(add).ToHashSet();
                bool closed = between.All(n => n.Output.All(o => !outputs.Contains(o) && graph.GetConsumers(o).All(inside.Contains)));
                if (closed)
                {
                    var nodes = order.Where(inside.Contains).ToList();
                    blocks.Add(new ResidualBlock(CouplingName(add), skip, add.Output[0], nodes, nodes.Any(n => n.OpType == "Softmax")));
                    break;
                }
            }
        }
        return blocks;
    }

    /// <summary>Depth-pruning units: transformer layers (attention block + the FFN block chained to it) or single residual blocks.</summary>
    public static IReadOnlyList<ResidualBlock> FindLayers(ModelProto model)
    {
        var blocks = FindBlocks(model);
        var layers = new List<ResidualBlock>();
        for (int i = 0; i < blocks.Count; i++)
        {
            var b = blocks[i];
            if (b.HasAttention && i + 1 < blocks.Count && !blocks[i + 1].HasAttention && blocks[i + 1].Input == b.Output)
            {
                var next = blocks[i + 1];
                layers.Add(new ResidualBlock(next.Name, b.Input, next.Output, b.Nodes.Concat(next.Nodes).ToList(), true));
                i++;
            }
            else
            {
                layers.Add(b);
            }
        }
        return layers;
    }

    /// <summary>Nodes that are descendants of <paramref name="from"/> and ancestors of (or producing) <paramref name="to"/>; null when <paramref name="to"/> does not depend on <paramref name="from"/>.</summary>
    private static List<NodeProto>? Between(OnnxGraph graph, string from, string to)
    {
        var ancestors = new HashSet<NodeProto>();
        var stack = new Stack<string>();
        stack.Push(to);
        bool reaches = false;
        var seen = new HashSet<string>();
        while (stack.Count > 0)
        {
            string t = stack.Pop();
            if (!seen.Add(t))
            {
                continue;
            }
            if (t == from)
            {
                reaches = true;
                continue;
            }
            if (graph.GetProducer(t) is { } p && ancestors.Add(p))
            {
                foreach (string i in p.Input.Where(i => i.Length > 0))
                {
                    stack.Push(i);
                }
            }
        }
        if (!reaches)
        {
            return null;
        }
        var descendants = new HashSet<NodeProto>();
        var queue = new Queue<string>();
        queue.Enqueue(from);
        var visited = new HashSet<string> { from };
        while (queue.Count > 0)
        {
            foreach (var c in graph.GetConsumers(queue.Dequeue()))
            {
                if (ancestors.Contains(c) && descendants.Add(c))
                {
                    foreach (string o in c.Output.Where(o => visited.Add(o)))
                    {
                        queue.Enqueue(o);
                    }
                }
            }
        }
        // Nodes feeding the branch from outside the skip path (e.g. a shared attention mask) stay.
        return descendants.ToList();
    }

    private static string CouplingName(NodeProto node) => node.Name.Length > 0 ? node.Name : node.OpType + ":" + node.Output[0];
}
