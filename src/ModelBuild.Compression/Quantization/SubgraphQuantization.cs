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
    public static bool HasQuantizableLstm(GraphProto graph)
    {
        var writer = new QdqGraphWriter(graph);
        return graph.Node.Any(n => LstmDynamicQuantizer.Fits(n, writer))
            || graph.Node.SelectMany(n => n.Attribute).SelectMany(a => a.Graphs.Prepend(a.G)).OfType<GraphProto>().Any(HasQuantizableLstm);
    }

    /// <summary>Whether the form is applied to subgraph bodies here.</summary>
    public static bool EntersBodies(string form) => form is Dynamic or Int8WeightStorage.FormName or Int4WeightQuantizer.FormName;

    /// <summary>The form on the main graph, then on every body (nested ones too), then LSTMs for int8-dynamic.</summary>
    public static QuantizedModel Quantize(IQuantizationForm form, ModelProto prepared, QuantizeRequest request)
    {
        var result = form.Quantize(prepared, request);
        if (!EntersBodies(form.Name)) return result;
        var model = result.Model;
        var quantized = result.QuantizedNodes.ToList();
        QuantizeBodies(model, model.Graph, form, request, quantized);
        if (form.Name == Dynamic) QuantizeLstms(model, model.Graph, request.ExcludedNodes, quantized);
        return new QuantizedModel(model, quantized, result.QuantizedActivations);
    }

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
            foreach (var attribute in node.Attribute.Where(a => a.G is not null)) QuantizeLstms(model, attribute.G, excluded, quantized);
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
        Walk(form, graph, null, left);
        return left;
    }

    static void Walk(string form, GraphProto graph, string? owner, List<string> left)
    {
        var where = owner is null ? "" : $" in {owner}";
        var initializers = OnnxModelAccess.Initializers(graph);
        bool HasWeight(NodeProto n) => n.Input.Any(i => initializers.TryGetValue(i, out var t) && OnnxModelAccess.IsFloat(t) && OnnxModelAccess.ElementCount(t) >= 16);
        foreach (var node in graph.Node)
        {
            var name = $"{node.OpType} '{node.Name}'{where}";
            if (form != Fp16 && node.OpType is "GRU" or "RNN" && HasWeight(node))
                left.Add($"{name} (ONNX Runtime has no int8 {node.OpType} kernel)");
            else if (node.OpType == "LSTM" && form is not (Fp16 or Dynamic) && HasWeight(node))
                left.Add($"{name} (only int8-dynamic quantizes LSTM weights, as DynamicQuantizeLSTM)");
            else if (owner is not null && form == StaticQdqInt8Quantizer.FormName && HasWeight(node))
                left.Add($"{name}{NotCalibrated}");
            foreach (var attribute in node.Attribute)
                foreach (var body in attribute.Graphs.Prepend(attribute.G).OfType<GraphProto>())
                    Walk(form, body, $"{node.OpType} '{node.Name}'", left);
        }
    }
}
