using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Per-layer SQNR: the output of each quantized node in the quantized model against the same tensor in the float
/// model, on a few calibration samples. The quantizers keep node output names, so the tensors line up by name.
/// </summary>
public static class LayerSqnr
{
    public const int Samples = 32;

    public static List<(string Node, string OpType, double Db)> Measure(ModelProto floatModel, ModelProto quantized, IReadOnlyList<string> nodes, InputSet data, int threads = 1)
    {
        var byName = floatModel.Graph.Node.ToDictionary(n => n.Name, StringComparer.Ordinal);
        // Nodes inside subgraphs are not in the main graph's list; an LSTM may leave its first output (Y) unused ("").
        var tensors = nodes.Where(byName.ContainsKey).Select(n => (Node: n, byName[n].OpType, Tensor: byName[n].Output[0])).Where(t => t.Tensor.Length > 0).ToList();
        // Only nodes inside subgraphs were quantized: nothing to observe (ONNX Runtime refuses a run without outputs).
        if (tensors.Count == 0) return [];
        var names = tensors.Select(t => t.Tensor).Distinct().ToList();
        var sample = data.Take(Samples);
        var reference = Run(floatModel, names, sample, threads);
        var test = Run(quantized, names, sample, threads);
        return tensors.Select(t => (t.Node, t.OpType, Metrics.Sqnr(reference[t.Tensor], test[t.Tensor]))).ToList();
    }

    private static Dictionary<string, float[]> Run(ModelProto model, List<string> tensors, InputSet data, int threads)
    {
        using var observed = new ObservedModel(model, tensors, threads, "sqnr");
        var result = observed.Runner.RunAll(data, 8, tensors);
        return tensors.Select((t, i) => (t, result.Values[i])).ToDictionary(p => p.t, p => p.Item2, StringComparer.Ordinal);
    }
}
