using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Quantization beyond the main graph: the bodies of <c>If</c>/<c>Loop</c>/<c>Scan</c> (streaming and speech models keep
/// their weights there) and <c>LSTM</c> cells. A form that rewrites nodes one graph at a time (int8-dynamic,
/// int8-weights, int4-weight) is applied to every body as to a graph of its own, since a body's MatMul reads its
/// activation from the enclosing scope exactly as a main-graph MatMul reads a graph input; int8-dynamic also turns
/// LSTMs into DynamicQuantizeLSTM. fp16 converts bodies itself (<see cref="Fp16Converter"/>). int8-static does not
/// enter bodies: its calibration observes tensors as graph outputs, which a body's tensors cannot be.
/// <see cref="LeftFloat"/> names, per form, what stays float and why.
/// </summary>
public static class SubgraphQuantization
{
    const string Dynamic = "int8-dynamic";
    const string Fp16 = "fp16";

    /// <summary>The reason <see cref="LeftFloat"/> gives for a weighted node inside a body under int8-static.</summary>
    public const string NotCalibrated = " (int8-static cannot calibrate tensors inside a subgraph)";

    /// <summary>Whether the graph or a body in it has an LSTM that int8-dynamic turns into DynamicQuantizeLSTM.</summary>
    public static bool HasQuantizableLstm(GraphProto graph) =>
        GraphTraversal.AllGraphs(graph).Any(g =>
        {
            var writer = new QdqGraphWriter(g);
            return g.Node.Any(n => LstmDynamicQuantizer.Fits(n, writer));
        });

    /// <summary>Whether the form is applied to subgraph bodies here.</summary>
    public static bool EntersBodies(string form) => form is Dynamic or Int8WeightStorage.FormName or Int4WeightQuantizer.FormName;

    /// <summary>
    /// The form on the main graph, then on every body (nested ones too), then LSTMs for int8-dynamic. A weight of the
    /// main graph that only bodies read (exporters hoist weights shared by both branches of an If) is first copied into
    /// each body that reads it, up to <see cref="MaxCopies"/>: quantized there, the copies together stay smaller than the
    /// one float original.
    /// </summary>
    public static QuantizedModel Quantize(IQuantizationForm form, ModelProto prepared, QuantizeRequest request)
    {
        if (EntersBodies(form.Name) && GraphTraversal.Bodies(prepared.Graph).Any())
        {
            prepared = prepared.Clone();
            Localize(prepared.Graph, MaxCopies);
        }
        var result = form.Quantize(prepared, request);
        if (!EntersBodies(form.Name)) return result;
        var model = result.Model;
        var quantized = result.QuantizedNodes.ToList();
        QuantizeBodies(model, model.Graph, form, request, quantized);
        if (form.Name == Dynamic) QuantizeLstms(model, model.Graph, request.ExcludedNodes, quantized);
        return new QuantizedModel(model, quantized, result.QuantizedActivations);
    }

    /// <summary>The quantizable nodes a form that enters bodies reaches: the main graph's and, weights localized, the bodies'.</summary>
    public static List<QuantizableNode> Reachable(ModelProto prepared)
    {
        if (!GraphTraversal.Bodies(prepared.Graph).Any()) return QuantizableNode.Find(prepared.Graph);
        var localized = prepared.Graph.Clone();
        Localize(localized, MaxCopies);
        return QuantizableNode.FindWithBodies(localized);
    }

    /// <summary>int8 stores a weight in a quarter of its float bytes (int4 an eighth): three copies are still smaller.</summary>
    public const int MaxCopies = 3;

    /// <summary>
    /// Moves (or copies, into at most <paramref name="maxCopies"/> bodies) each float initializer of <paramref name="graph"/>
    /// that no node of the graph itself reads, only nodes of its bodies, into the top-level bodies that read it, so a
    /// body's MatMul has its weight as a local initializer. Meaning is unchanged: a body sees the same value either way.
    /// </summary>
    public static void Localize(GraphProto graph, int maxCopies)
    {
        var bodies = GraphTraversal.Bodies(graph).ToList();
        if (bodies.Count == 0) return;
        var readHere = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
        var readers = bodies.Select(b => (Body: b, Reads: Reads(b))).ToList();
        foreach (var weight in graph.Initializer.ToList())
        {
            if (!OnnxModelAccess.IsFloat(weight) || OnnxModelAccess.ElementCount(weight) < 16 || readHere.Contains(weight.Name)) continue;
            var into = readers.Where(r => r.Reads.Contains(weight.Name)).Select(r => r.Body).ToList();
            // A body that defines the name itself shadows the outer weight: leave such graphs alone.
            if (into.Count == 0 || into.Count > maxCopies || into.Any(b => b.Initializer.Any(t => t.Name == weight.Name) || b.Input.Any(i => i.Name == weight.Name))) continue;
            graph.Initializer.Remove(weight);
            foreach (var body in into) body.Initializer.Add(weight.Clone());
        }
    }

    /// <summary>Every name the nodes of a body read, its nested bodies included.</summary>
    static HashSet<string> Reads(GraphProto body) =>
        GraphTraversal.AllNodes(body).SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);

    // Walks the graph attributes' slots itself: each body is replaced by the form's quantized copy, then entered.
    static void QuantizeBodies(ModelProto model, GraphProto graph, IQuantizationForm form, QuantizeRequest request, List<string> quantized)
    {
        foreach (var node in graph.Node)
        {
            foreach (var attribute in node.Attribute.Where(a => a.G is not null))
            {
                // A body as a model of its own: the form sees its nodes and initializers, the enclosing scope's values as inputs.
                var body = new ModelProto { IrVersion = model.IrVersion, Graph = attribute.G };
                body.OpsetImport.AddRange(model.OpsetImport.Select(o => o.Clone()));
                var result = form.Quantize(body, request);
                attribute.G = result.Model.Graph;
                quantized.AddRange(result.QuantizedNodes);
                foreach (var opset in result.Model.OpsetImport) OnnxModelAccess.EnsureOpset(model, opset.Domain, opset.Version);
                QuantizeBodies(model, attribute.G, form, request, quantized);
            }
        }
    }

    static void QuantizeLstms(ModelProto model, GraphProto graph, IReadOnlySet<string> excluded, List<string> quantized)
    {
        var writer = new QdqGraphWriter(graph);
        var any = false;
        for (var i = 0; i < graph.Node.Count; i++)
        {
            var node = graph.Node[i];
            foreach (var body in GraphTraversal.Bodies(node)) QuantizeLstms(model, body, excluded, quantized);
            if (excluded.Contains(node.Name) || !LstmDynamicQuantizer.Fits(node, writer)) continue;
            graph.Node[i] = LstmDynamicQuantizer.Quantize(node, writer);
            quantized.Add(node.Name);
            any = true;
        }
        if (!any) return;
        QdqGraphWriter.RemoveUnusedInitializers(graph);
        OnnxModelAccess.EnsureOpset(model, "com.microsoft", 1);
    }

    /// <summary>
    /// The weighted nodes <paramref name="form"/> leaves float, as "OpType 'node' (why)": recurrent cells it has no
    /// kernel for, and for int8-static every weighted node inside a body ("... in If 'branch'").
    /// </summary>
    public static List<string> LeftFloat(string form, GraphProto graph)
    {
        var left = new List<string>();
        Walk(form, graph, null, left, new HashSet<string>(StringComparer.Ordinal));
        return left;
    }

    static void Walk(string form, GraphProto graph, string? owner, List<string> left, HashSet<string> enclosingWeights)
    {
        var where = owner is null ? "" : $" in {owner}";
        // A body reads weights of its own and of the graphs around it.
        var weights = graph.Initializer.Where(t => OnnxModelAccess.IsFloat(t) && OnnxModelAccess.ElementCount(t) >= 16).Select(t => t.Name)
            .Concat(enclosingWeights).ToHashSet(StringComparer.Ordinal);
        bool HasWeight(NodeProto n) => n.Input.Any(weights.Contains);
        foreach (var node in graph.Node)
        {
            var name = $"{node.OpType} '{node.Name}'{where}";
            if (form != Fp16 && node.OpType is "GRU" or "RNN" && HasWeight(node))
                left.Add($"{name} (ONNX Runtime has no int8 {node.OpType} kernel)");
            else if (node.OpType == "LSTM" && form is not (Fp16 or Dynamic) && HasWeight(node))
                left.Add($"{name} (only int8-dynamic quantizes LSTM weights, as DynamicQuantizeLSTM)");
            else if (owner is not null && form == StaticQdqInt8Quantizer.FormName && HasWeight(node))
                left.Add($"{name}{NotCalibrated}");
            // Depth first per node (a body's entries right after its owner's), each body seeing the weights around it.
            foreach (var body in GraphTraversal.Bodies(node))
                Walk(form, body, $"{node.OpType} '{node.Name}'", left, weights);
        }
    }
}
