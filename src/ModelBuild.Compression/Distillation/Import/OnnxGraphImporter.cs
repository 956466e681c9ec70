using ModelBuild.Onnx.Diagnostics;
using Onnx;
using TorchSharp;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Compression.Distillation.Import;

/// <summary>Turns an ONNX model into an <see cref="OnnxGraphModule"/>, after checking that every operator is supported.</summary>
public static class OnnxGraphImporter
{
    /// <summary>Loads (MB00xx errors for unreadable files, external data resolved) and imports a model file.</summary>
    public static OnnxGraphModule Import(string path) => Import(ModelBuild.Onnx.OnnxModel.Load(path).Proto, path);

    /// <param name="model">The model; the module keeps a reference to it (export writes trained values into a clone).</param>
    /// <param name="file">The file name to report in errors.</param>
    /// <param name="float16AsFloat32">Compute float16 graphs in float32, as ONNX Runtime's CPU provider does (default).</param>
    /// <param name="fuseOperators">Run decomposed LayerNorm/GELU subgraphs as one kernel each (<see cref="OperatorFusion"/>);
    /// off by default so the module executes exactly the graph's nodes; the trainer turns it on.</param>
    /// <param name="preserveTensors">Intermediate values that must stay readable through <c>Run</c>'s fetch (not fused away).</param>
    public static OnnxGraphModule Import(ModelProto model, string? file = null, bool float16AsFloat32 = true, bool fuseOperators = false, IReadOnlySet<string>? preserveTensors = null)
    {
        Native.LibTorchLoader.EnsureLoaded();
        var graph = model.Graph;
        int opset = (int)(model.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 1);
        CheckSupported(graph, file);
        var sorted = TopologicalOrder(graph, file);
        var nonTrainable = NonTrainableInitializers(graph);
        return new OnnxGraphModule(model, sorted, opset,
            init => IsFloat(init.DataType) && ElementCount(init) > 1 && !nonTrainable.Contains(init.Name),
            string.IsNullOrEmpty(graph.Name) ? "onnx_graph" : graph.Name, float16AsFloat32, fuseOperators, preserveTensors);
    }

    /// <summary>MB0301: every unsupported operator with the nodes that use it, in one message.</summary>
    public static void CheckSupported(GraphProto graph, string? file)
    {
        var unsupported = graph.Node
            .Where(n => !OnnxOperators.IsSupported(n.Domain, n.OpType))
            .GroupBy(n => n.Domain is "" or "ai.onnx" ? n.OpType : $"{n.Domain}.{n.OpType}")
            .Select(g => $"{g.Key} ({string.Join(", ", g.Select(n => string.IsNullOrEmpty(n.Name) ? "<unnamed>" : n.Name))})")
            .ToList();
        if (unsupported.Count > 0)
            throw new ModelBuildException("MB0301",
                $"The model uses operators the distillation importer does not support: {string.Join("; ", unsupported)}.",
                "Distill a model that uses only the supported operators (see docs/diagnostics.md), or export it with a different opset or without fused/custom operators.",
                file);
    }

    static List<NodeProto> TopologicalOrder(GraphProto graph, string? file)
    {
        var available = new HashSet<string>(graph.Input.Select(i => i.Name).Concat(graph.Initializer.Select(i => i.Name)), StringComparer.Ordinal) { "" };
        var pending = graph.Node.ToList();
        var order = new List<NodeProto>(pending.Count);
        while (pending.Count > 0)
        {
            int before = order.Count;
            for (int i = 0; i < pending.Count; i++)
            {
                var node = pending[i];
                if (!node.Input.All(available.Contains)) continue;
                order.Add(node);
                foreach (var o in node.Output) available.Add(o);
                pending.RemoveAt(i--);
            }
            if (order.Count == before)
                throw new ModelBuildException("MB0302",
                    $"The graph has a cycle or reads tensors nothing produces (first blocked node: '{pending[0].Name}' ({pending[0].OpType}), inputs {string.Join(", ", pending[0].Input.Where(n => !available.Contains(n)))}).",
                    "Check the model with onnx.checker; every node input must be a graph input, an initializer or an earlier node's output.",
                    file);
        }
        return order;
    }

    /// <summary>Initializers that are statistics or shape data rather than weights: BatchNorm running mean/variance.</summary>
    static HashSet<string> NonTrainableInitializers(GraphProto graph)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in graph.Node)
        {
            if (n.OpType == "BatchNormalization")
                for (int i = 3; i < n.Input.Count; i++) set.Add(n.Input[i]);
        }
        return set;
    }

    static bool IsFloat(int type) => (DataType)type is DataType.Float or DataType.Double or DataType.Float16 or DataType.Bfloat16;

    static long ElementCount(TensorProto t) => t.Dims.Aggregate(1L, (p, d) => p * d);
}
