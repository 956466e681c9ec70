using ModelBuild.Compression.Structure.Coupling;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Structure;

/// <summary>
/// The DepGraph idea on an ONNX graph: starting from every layer that produces prunable units (Gemm/MatMul
/// output features, Conv output channels), follow the per-operator coupling rules forwards and backwards
/// until every tensor, initializer, Reshape constant and Conv group count that carries the same units is
/// found. Each closure is one <see cref="PruningGroup"/>. A closure that reaches a graph input or output, or
/// an operator with no rule, is kept with the reason it cannot be rewritten.
/// </summary>
public sealed class DependencyGraph
{
    private const int MaxUnitRefinements = 4;

    private DependencyGraph(IReadOnlyList<PruningGroup> groups) => Groups = groups;

    public IReadOnlyList<PruningGroup> Groups { get; }

    public IEnumerable<PruningGroup> Prunable => Groups.Where(g => g.IsPrunable);

    /// <param name="model">A model normalized by <see cref="GraphNormalizer"/>.</param>
    /// <param name="shapes">Concrete shapes of every tensor (Evaluation's <c>TensorShapeProbe</c>).</param>
    public static DependencyGraph Build(ModelProto model, IReadOnlyDictionary<string, long[]> shapes)
    {
        var graph = new OnnxGraph(model.Graph);
        var ctx = new CouplingContext(model, shapes);
        var covered = new HashSet<(string, int)>();
        var groups = new List<PruningGroup>();
        foreach (var node in graph.TopologicalOrder())
        {
            if (SeedOf(node, ctx) is not { } seed)
            {
                continue;
            }
            if (covered.Contains((seed.Tensor, seed.Axis)))
            {
                continue;
            }
            var group = BuildGroup(graph, ctx, node, seed);
            foreach (var span in group.Spans)
            {
                covered.Add((span.Tensor, span.Axis));
            }
            groups.Add(group);
        }
        return new DependencyGraph(groups);
    }

    /// <summary>The output span of a layer that owns its output units, or null.</summary>
    private static ChannelSpan? SeedOf(NodeProto node, CouplingContext ctx)
    {
        if (node.Domain is not ("" or "ai.onnx") || node.Output.Count == 0)
        {
            return null;
        }
        switch (node.OpType)
        {
            case "Gemm" when ctx.IsInitializer(node.Input[1]):
                return new ChannelSpan(node.Output[0], 1, 1, 0);
            case "MatMul" when ctx.IsInitializer(node.Input[1]) && ctx.Rank(node.Input[1]) == 2 && !ctx.IsInitializer(node.Input[0]):
                return new ChannelSpan(node.Output[0], ctx.Rank(node.Output[0]) - 1, 1, 0);
            case "Conv" when node.Input.Count > 1 && ctx.IsInitializer(node.Input[1]) && CouplingRules.Attribute(node, "group", 1) == 1:
                return new ChannelSpan(node.Output[0], 1, 1, 0);
            default:
                return null;
        }
    }

    private static PruningGroup BuildGroup(OnnxGraph graph, CouplingContext ctx, NodeProto seedNode, ChannelSpan seed)
    {
        long width = ctx.Shape(seed.Tensor)[seed.Axis];
        int unit = 1;
        string name = CouplingRules.NodeName(seedNode);
        for (int attempt = 0; ; attempt++)
        {
            var root = seed with { UnitSize = unit };
            var group = new PruningGroup(name, root, checked((int)(width / unit)));
            try
            {
                bool reduces = Close(graph, ctx, group);
                group.Kind = seedNode.OpType == "Conv" ? PruningUnitKind.Channels
                    : reduces || group.Parameters.Any(p => p.Role == ParameterRole.Embedding) ? PruningUnitKind.HiddenSize
                    : unit > 1 ? PruningUnitKind.Heads
                    : PruningUnitKind.Neurons;
                return group;
            }
            catch (CouplingException e) when (e.UnitMultiple > 1 && attempt < MaxUnitRefinements && width % ((long)unit * e.UnitMultiple) == 0)
            {
                unit *= e.UnitMultiple;
            }
            catch (CouplingException e)
            {
                group.Kind = seedNode.OpType == "Conv" ? PruningUnitKind.Channels : PruningUnitKind.Neurons;
                group.NotPrunableReason = e.Message;
                return group;
            }
        }
    }

    /// <summary>Breadth-first closure of the group's spans. Returns whether a reduction over the units was met.</summary>
    private static bool Close(OnnxGraph graph, CouplingContext ctx, PruningGroup group)
    {
        ctx.Units = group.Units;
        var outputs = graph.Proto.Output.Select(o => o.Name).ToHashSet();
        var inputs = graph.RealInputs().Select(i => i.Name).ToHashSet();
        var visited = new Dictionary<(string, int), ChannelSpan>();
        var queue = new Queue<ChannelSpan>();
        var parameters = new HashSet<ParameterSlice>();
        bool reduces = false;
        visited[(group.Root.Tensor, group.Root.Axis)] = group.Root;
        queue.Enqueue(group.Root);
        while (queue.Count > 0)
        {
            var span = queue.Dequeue();
            group.Spans.Add(span);
            if (outputs.Contains(span.Tensor))
            {
                throw new CouplingException($"reaches model output '{span.Tensor}' (model outputs keep their width)");
            }
            if (inputs.Contains(span.Tensor))
            {
                throw new CouplingException($"reaches model input '{span.Tensor}' (model inputs keep their width)");
            }
            var result = new CouplingResult();
            if (graph.GetProducer(span.Tensor) is { } producer)
            {
                CouplingRules.Couple(producer, span, true, producer.Output.IndexOf(span.Tensor), ctx, result);
            }
            foreach (var consumer in graph.GetConsumers(span.Tensor))
            {
                for (int i = 0; i < consumer.Input.Count; i++)
                {
                    if (consumer.Input[i] == span.Tensor)
                    {
                        CouplingRules.Couple(consumer, span, false, i, ctx, result);
                    }
                }
                if (!consumer.Input.Contains(span.Tensor))
                {
                    throw new CouplingException($"{consumer.OpType} ({CouplingRules.NodeName(consumer)}) reads '{span.Tensor}' inside a subgraph");
                }
            }
            reduces |= result.ReducesOverUnits;
            foreach (var p in result.Parameters)
            {
                long size = ctx.Shape(p.Initializer)[p.Axis];
                if (p.Offset + (long)group.Units * p.UnitSize > size)
                {
                    throw new CouplingException($"initializer '{p.Initializer}' is too small on axis {p.Axis} for the group's units");
                }
                if (parameters.Add(p))
                {
                    group.Parameters.Add(p);
                }
            }
            foreach (var e in result.ShapeEdits.Where(e => !group.ShapeEdits.Contains(e)))
            {
                group.ShapeEdits.Add(e);
            }
            foreach (var e in result.ConvGroupEdits.Where(e => !group.ConvGroupEdits.Contains(e)))
            {
                group.ConvGroupEdits.Add(e);
            }
            foreach (var next in result.Spans)
            {
                if (next.Tensor.Length == 0)
                {
                    continue;
                }
                if (ctx.IsInitializer(next.Tensor))
                {
                    throw new CouplingException($"constant '{next.Tensor}' would need pruning through an operator that does not own it");
                }
                if (visited.TryGetValue((next.Tensor, next.Axis), out var seen))
                {
                    if (seen != next)
                    {
                        throw new CouplingException($"tensor '{next.Tensor}' is reached with two different unit layouts ({seen} and {next})");
                    }
                    continue;
                }
                visited[(next.Tensor, next.Axis)] = next;
                queue.Enqueue(next);
            }
        }
        return reduces;
    }
}
