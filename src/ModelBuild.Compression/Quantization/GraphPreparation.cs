using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.OpsetConversion;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Makes a float model ready to quantize: initializers that old exporters also list as graph inputs are made
/// constant, the opset is raised to what the quantized operators need (by <see cref="OpsetConverter"/>, which
/// rewrites each operator whose meaning changed on the way and refuses, by name, one it cannot rewrite faithfully), and ONNX Runtime's basic graph optimizations are applied offline: constant folding,
/// BatchNorm folded into Conv, Conv+Add/Mul folding, Identity/Dropout removal. Those rewrites produce only standard
/// ONNX operators, and using ONNX Runtime's own implementation avoids a second, hand-written constant folder.
/// Every node gets a stable name, because the report and the exclusion lists refer to nodes by name.
/// </summary>
public static class GraphPreparation
{
    /// <summary>Per-axis QuantizeLinear/DequantizeLinear need opset 13.</summary>
    public const int QuantizationOpset = 13;

    /// <summary>Per-tensor QuantizeLinear/DequantizeLinear need opset 10.</summary>
    public const int PerTensorQuantizationOpset = 10;

    /// <summary>Opset the integer ops of dynamic int8 need (DynamicQuantizeLinear).</summary>
    public const int DynamicQuantizationOpset = 11;

    /// <param name="requiredOpset">The opset the chosen form needs: 13 for per-axis QDQ, 11 for dynamic int8, 10 otherwise.</param>
    /// <param name="converted">Receives one line describing the opset conversion, when there was one.</param>
    public static ModelProto Prepare(ModelProto source, string modelPath, int requiredOpset = QuantizationOpset, ICollection<string>? converted = null)
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
            try
            {
                var rewritten = OpsetConverter.Convert(model, requiredOpset);
                converted?.Add($"opset {opset} -> {requiredOpset}" + (rewritten.Count > 0 ? $", rewrote {rewritten.Count} node(s): " + DescribeRewrites(rewritten) : ""));
            }
            catch (OpsetConversionException e)
            {
                throw new ModelBuildException("MB0202",
                    $"'{modelPath}' uses opset {opset} and this quantization form needs {requiredOpset}; these operators have no faithful rewrite to opset {requiredOpset}: {string.Join("; ", e.Refusals)}.",
                    $"Re-export the model at opset {requiredOpset} or later (torch.onnx.export(..., opset_version={requiredOpset})), or use a form that needs a lower opset (int8-dynamic: 11, int8-weights/int4-weight/fp16: 10).", modelPath, e);
            }
        }

        var optimized = OptimizeWithOnnxRuntime(model, modelPath);
        NameNodes(optimized.Graph);
        // A weight only one If/Loop/Scan body reads belongs in it: every form then sees it where its MatMul is.
        SubgraphQuantization.Localize(optimized.Graph, maxCopies: 1);
        return optimized;
    }

    /// <summary>Up to 8 rewritten nodes by name, else a count per operator (a 24-layer BERT rewrites hundreds of Unsqueezes).</summary>
    private static string DescribeRewrites(IReadOnlyList<string> rewritten) =>
        rewritten.Count <= 8
            ? string.Join(", ", rewritten)
            : string.Join(", ", rewritten.GroupBy(r => r.Split(' ')[0]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key} x{g.Count()}"));

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
                throw new ModelBuildException("MB0507", $"ONNX Runtime cannot load '{modelPath}': {ModelRunner.FirstLine(e.Message)}", "Check the model with onnx.checker and that ONNX Runtime 1.32 supports its operators.", modelPath, e);
            }
            var optimized = OnnxModelAccess.Load(output);
            KeepLastInitializerOfEachName(optimized.Graph);
            // Keep the source's producer fields so the output is recognizably the same model (ONNX Runtime writes its own
            // opset list: every domain it registers, not only the ones the graph uses).
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

    /// <summary>
    /// A graph that defines a name twice (gpt2-past-tiny has 48 Constant nodes whose outputs repeat another's) comes
    /// back from ONNX Runtime with one initializer per definition, all holding the value ONNX Runtime runs with: the
    /// last one ("the model will use the latest encountered initializer"). One of each is kept, that one, so no stage
    /// writes a file with a name defined twice.
    /// </summary>
    private static void KeepLastInitializerOfEachName(GraphProto graph)
    {
        var last = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer) last[t.Name] = t;
        if (last.Count == graph.Initializer.Count) return;
        var kept = graph.Initializer.Where(t => ReferenceEquals(last[t.Name], t)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(kept);
    }

    /// <summary>
    /// Gives unnamed nodes the name <c>OpType_index</c>, and duplicate names a suffix. Nodes inside If/Loop/Scan bodies
    /// too (<c>owner/OpType_index</c>), unique across the model: the quantizers derive the names they add from them.
    /// </summary>
    public static void NameNodes(GraphProto graph)
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        // Outermost first: a body's prefix is its owner's name, given when the enclosing graph was named.
        foreach (var (g, owner) in GraphTraversal.AllGraphsWithOwners(graph))
        {
            var prefix = owner is null ? "" : owner.Name + "/";
            for (var i = 0; i < g.Node.Count; i++)
            {
                var node = g.Node[i];
                var name = string.IsNullOrEmpty(node.Name) ? $"{prefix}{node.OpType}_{i}" : node.Name;
                while (!used.Add(name)) name += "_" + i;
                node.Name = name;
            }
        }
    }
}
