using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Shapes;
using Onnx;

namespace ModelBuild.Onnx.OpsetConversion;

/// <summary>
/// Raises a model's default-domain opset, rewriting each operator whose meaning or form changed on the way (as
/// ONNX's version converter does: adapters applied in order of their change point, so that e.g. Upsample becomes an
/// opset-10 Resize and then an opset-11 one). Subgraphs (If/Loop/Scan bodies) are converted too. An operator with no
/// faithful rewrite, or one the registry does not know, is refused by name; nothing is guessed.
/// </summary>
public static class OpsetConverter
{
    /// <summary>Converts the model in place. Throws <see cref="OpsetConversionException"/> naming every refused node.</summary>
    /// <returns>The nodes that were rewritten (op type and name), for the report.</returns>
    public static IReadOnlyList<string> Convert(ModelProto model, int targetOpset)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetOpset, OpsetAdapterRegistry.NewestTarget);
        var defaultImport = model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        var source = (int)(defaultImport?.Version ?? 1);
        if (source >= targetOpset) return [];

        var refusals = new List<OpsetRefusal>();
        var rewritten = new List<string>();
        if (source < OpsetAdapterRegistry.OldestSource)
        {
            refusals.Add(new OpsetRefusal("(model)", "-", $"opset {source} is older than {OpsetAdapterRegistry.OldestSource}, the oldest this converter knows"));
        }
        else
        {
            // Types and ranks of main-graph values help adapters pick the exact rewrite; on a copy, as inference annotates.
            IReadOnlyDictionary<string, InferredValue> values;
            try
            {
                values = ShapeInference.Infer(model.Clone()).Values;
            }
            catch (Diagnostics.ModelBuildException)
            {
                values = new Dictionary<string, InferredValue>(); // e.g. a cycle: adapters then take their rank-free rewrites
            }
            var names = AllNames(model.Graph);
            ConvertGraph(model.Graph, source, targetOpset, values, names, refusals, rewritten);
        }
        if (refusals.Count > 0) throw new OpsetConversionException(source, targetOpset, refusals);

        defaultImport!.Version = targetOpset;
        // Opset 13 needs IR 7 (ONNX's table of IR versions per opset); older IRs also listed initializers as inputs.
        if (model.IrVersion < 7) model.IrVersion = 7;
        return rewritten;
    }

    private static void ConvertGraph(GraphProto graph, int source, int target, IReadOnlyDictionary<string, InferredValue> values,
        HashSet<string> names, List<OpsetRefusal> refusals, List<string> rewritten)
    {
        var context = new OpsetRewriteContext(graph, values, names, refusals);
        var result = new List<NodeProto>(graph.Node.Count);
        foreach (var node in graph.Node)
        {
            foreach (var body in GraphTraversal.Bodies(node)) ConvertGraph(body, source, target, values, names, refusals, rewritten);
            if (node.Domain is not ("" or "ai.onnx"))
            {
                result.Add(node);
                continue;
            }
            if (!OpsetAdapterRegistry.IsKnown(node.OpType))
            {
                context.Refuse(node, $"no rewrite is known for it between opset {source} and {target}");
                result.Add(node);
                continue;
            }
            var name = $"{node.OpType} '{OpsetRewriteContext.NameOf(node)}'";
            if (Rewrite(node, source, target, context, result)) rewritten.Add(name);
        }
        graph.Node.Clear();
        graph.Node.AddRange(result);
    }

    /// <summary>Applies the adapters of this node's operator in order of their change points; their output is valid at that point.</summary>
    /// <returns>Whether any adapter applied.</returns>
    private static bool Rewrite(NodeProto node, int from, int target, OpsetRewriteContext context, List<NodeProto> output)
    {
        var adapter = OpsetAdapterRegistry.Next(node.OpType, from, target);
        if (adapter is null)
        {
            output.Add(node);
            return false;
        }
        // Change points strictly increase along the chain, so this ends.
        foreach (var replacement in adapter.Rewrite(node, context)) Rewrite(replacement, adapter.ChangedAt, target, context, output);
        return true;
    }

    private static HashSet<string> AllNames(GraphProto graph)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in GraphTraversal.AllGraphs(graph))
        {
            foreach (var i in g.Input) names.Add(i.Name);
            foreach (var i in g.Initializer) names.Add(i.Name);
            foreach (var n in g.Node)
            {
                names.Add(n.Name);
                foreach (var o in n.Output) names.Add(o);
            }
        }
        return names;
    }
}

/// <summary>The model cannot be converted to the target opset; <see cref="Refusals"/> names each operator and node.</summary>
public sealed class OpsetConversionException(int source, int target, IReadOnlyList<OpsetRefusal> refusals)
    : Exception($"Cannot convert from opset {source} to {target}: {string.Join("; ", refusals)}")
{
    public int SourceOpset { get; } = source;
    public int TargetOpset { get; } = target;
    public IReadOnlyList<OpsetRefusal> Refusals { get; } = refusals;
}
