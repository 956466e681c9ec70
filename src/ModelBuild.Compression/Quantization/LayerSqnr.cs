using Microsoft.ML.OnnxRuntime;
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
        var tensors = nodes.Where(byName.ContainsKey).Select(n => (Node: n, byName[n].OpType, Tensor: byName[n].Output[0])).ToList();
        var names = tensors.Select(t => t.Tensor).Distinct().ToList();
        var sample = data.Take(Samples);
        var reference = Run(floatModel, names, sample, threads);
        var test = Run(quantized, names, sample, threads);
        return tensors.Select(t => (t.Node, t.OpType, Metrics.Sqnr(reference[t.Tensor], test[t.Tensor]))).ToList();
    }

    private static Dictionary<string, float[]> Run(ModelProto model, List<string> tensors, InputSet data, int threads)
    {
        var augmented = model.Clone();
        var outputs = augmented.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var t in tensors.Where(t => !outputs.Contains(t)))
            augmented.Graph.Output.Add(new ValueInfoProto
            {
                Name = t,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        var path = Path.Combine(Path.GetTempPath(), "modelbuild-sqnr-" + Guid.NewGuid().ToString("N") + ".onnx");
        try
        {
            File.WriteAllBytes(path, OnnxModelAccess.Serialize(augmented));
            using var runner = new ModelRunner(path, threads, GraphOptimizationLevel.ORT_ENABLE_BASIC);
            var result = runner.RunAll(data, 8, tensors);
            return tensors.Select((t, i) => (t, result.Values[i])).ToDictionary(p => p.t, p => p.Item2, StringComparer.Ordinal);
        }
        finally { File.Delete(path); }
    }
}
