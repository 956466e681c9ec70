using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Makes a float model ready to quantize: initializers that old exporters also list as graph inputs are made
/// constant, the opset is raised to what the quantized operators need (only for graphs whose operators mean the
/// same at both versions), and ONNX Runtime's basic graph optimizations are applied offline: constant folding,
/// BatchNorm folded into Conv, Conv+Add/Mul folding, Identity/Dropout removal. Those rewrites produce only standard
/// ONNX operators, and using ONNX Runtime's own implementation avoids a second, hand-written constant folder.
/// Every node gets a stable name, because the report and the exclusion lists refer to nodes by name.
/// </summary>
public static class GraphPreparation
{
    /// <summary>Per-axis QuantizeLinear/DequantizeLinear need opset 13.</summary>
    public const int QuantizationOpset = 13;

    /// <summary>Operators whose meaning does not change between opset 7 and 13 (checked against the ONNX changelog).</summary>
    private static readonly HashSet<string> StableAcrossOpsets = new(StringComparer.Ordinal)
    {
        "Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Reshape", "MatMul", "Add", "Sub",
        "Mul", "Div", "Gemm", "Transpose", "Concat", "Flatten", "Exp", "Log", "Sigmoid", "Tanh", "Sqrt", "Identity",
        "Constant", "Shape", "Gather", "BatchNormalization", "LeakyRelu", "Abs", "Neg", "Erf", "Pow", "Cast",
        "ConvTranspose", "Dropout", "PRelu", "InstanceNormalization", "LRN", "Not", "Equal", "Where",
    };

    /// <summary>Per-tensor QuantizeLinear/DequantizeLinear need opset 10.</summary>
    public const int PerTensorQuantizationOpset = 10;

    /// <summary>Opset the integer ops of dynamic int8 need (DynamicQuantizeLinear).</summary>
    public const int DynamicQuantizationOpset = 11;

    /// <param name="requiredOpset">The opset the chosen form needs: 13 for per-axis QDQ, 11 for dynamic int8, 10 otherwise.</param>
    public static ModelProto Prepare(ModelProto source, string modelPath, int requiredOpset = QuantizationOpset)
    {
        var model = source.Clone();
        var graph = model.Graph;
        // Old exporters list initializers as inputs too, which makes them overridable and blocks constant folding.
        var initializerNames = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var keptInputs = graph.Input.Where(i => !initializerNames.Contains(i.Name)).ToList();
        graph.Input.Clear();
        graph.Input.AddRange(keptInputs);

        var opset = OnnxModelAccess.OpsetVersion(model);
        if (opset < requiredOpset)
        {
            var blocking = graph.Node.Where(n => n.Domain is "" or "ai.onnx")
                .Where(n => !StableAcrossOpsets.Contains(n.OpType) && !IsLastAxisSoftmax(n, graph) && !(n.OpType == "Slice" && n.Input.Count == 1))
                .Select(n => n.OpType).Distinct().ToList();
            if (blocking.Count > 0)
                throw new ModelBuildException("MB0202",
                    $"'{modelPath}' uses opset {opset}, and its operators {string.Join(", ", blocking)} changed meaning before opset {requiredOpset}, which this quantization form needs.",
                    $"Re-export the model at opset {requiredOpset} or later (torch.onnx.export(..., opset_version={requiredOpset})), or use a form that needs a lower opset (int8-dynamic: 11, int8-weights/int4-weight/fp16: 10).", modelPath);
            foreach (var import in model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx")) import.Version = requiredOpset;
            if (model.IrVersion < 7) model.IrVersion = 7;
            // BatchNormalization lost 'spatial' (opset 9) and 'consumed_inputs' (opset 6); Dropout 'is_test'.
            foreach (var node in graph.Node)
            {
                if (node.OpType == "Slice" && node.Input.Count == 1) SliceAttributesToInputs(graph, node);
                var stale = node.Attribute.Where(a => a.Name is "spatial" or "consumed_inputs" or "is_test").ToList();
                foreach (var a in stale) node.Attribute.Remove(a);
            }
        }

        var optimized = OptimizeWithOnnxRuntime(model, modelPath);
        NameNodes(optimized.Graph);
        return optimized;
    }

    /// <summary>Slice-1 took starts/ends/axes as attributes; from opset 10 they are int64 inputs with the same meaning.</summary>
    private static void SliceAttributesToInputs(GraphProto graph, NodeProto node)
    {
        foreach (var name in new[] { "starts", "ends", "axes" })
        {
            var attribute = node.Attribute.FirstOrDefault(a => a.Name == name);
            if (attribute is null) continue;
            var values = attribute.Ints.ToArray();
            var tensorName = $"{node.Name}_{name}_{node.Output[0]}";
            graph.Initializer.Add(OnnxModelAccess.Int64Tensor(tensorName, values, values.Length));
            node.Input.Add(tensorName);
            node.Attribute.Remove(attribute);
        }
    }

    private static bool IsLastAxisSoftmax(NodeProto node, GraphProto graph)
    {
        if (node.OpType is not ("Softmax" or "LogSoftmax")) return false;
        var axis = OnnxModelAccess.GetInt(node, "axis", 1)!.Value;
        if (axis == -1) return true;
        var info = graph.Output.Concat(graph.ValueInfo).FirstOrDefault(v => v.Name == node.Output[0]);
        var rank = info?.Type?.TensorType?.Shape?.Dim.Count;
        return rank is not null && axis == rank - 1;
    }

    public static ModelProto OptimizeWithOnnxRuntime(ModelProto model, string modelPath)
    {
        var input = Path.Combine(Path.GetTempPath(), "modelbuild-prep-" + Guid.NewGuid().ToString("N") + ".onnx");
        var output = Path.ChangeExtension(input, ".opt.onnx");
        try
        {
            File.WriteAllBytes(input, OnnxModelAccess.Serialize(model));
            using var options = ModelRunner.CreateOptions(1, GraphOptimizationLevel.ORT_ENABLE_BASIC);
            options.OptimizedModelFilePath = output;
            try
            {
                using var session = new InferenceSession(input, options);
            }
            catch (OnnxRuntimeException e)
            {
                throw new ModelBuildException("MB0507", $"ONNX Runtime cannot load '{modelPath}': {ModelRunner.FirstLine(e.Message)}", "Check the model with onnx.checker and that ONNX Runtime 1.31 supports its operators.", modelPath, e);
            }
            var optimized = OnnxModelAccess.Load(output);
            // Keep the source's producer fields, metadata and opset list so the output is recognizably the same model.
            optimized.ProducerName = model.ProducerName;
            optimized.ProducerVersion = model.ProducerVersion;
            return optimized;
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }

    /// <summary>Gives unnamed nodes the name <c>OpType_index</c>, and duplicate names a suffix.</summary>
    public static void NameNodes(GraphProto graph)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < graph.Node.Count; i++)
        {
            var node = graph.Node[i];
            var name = string.IsNullOrEmpty(node.Name) ? $"{node.OpType}_{i}" : node.Name;
            while (!used.Add(name)) name += "_" + i;
            node.Name = name;
        }
    }
}
