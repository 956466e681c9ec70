using System.Text.RegularExpressions;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>Outcome of <see cref="UnstructuredMagnitudePruner"/>.</summary>
public sealed record UnstructuredPruningResult(OnnxModel Model, long Parameters, long ZerosBefore, long ZerosAfter, IReadOnlyList<string> Tensors)
{
    public double Sparsity => Parameters == 0 ? 0 : (double)ZerosAfter / Parameters;
}

/// <summary>
/// Unstructured magnitude pruning (<c>--prune-mode unstructured</c>): in every Gemm/MatMul/Conv weight the
/// smallest-magnitude fraction of entries is set to zero (layer-wise, so no layer is emptied). The graph and
/// its dense tensors keep their shapes, so ONNX Runtime on a CPU runs exactly as fast as before; the gain is
/// size once the file is compressed (runs of zeros deflate well) and a sparsity a sparse runtime could use.
/// </summary>
public static class UnstructuredMagnitudePruner
{
    public const string LatencyNote =
        "Unstructured pruning zeroes weights but keeps every tensor dense: ONNX Runtime's CPU kernels do the same work, so latency does not improve. Only the compressed size shrinks.";

    public static UnstructuredPruningResult Prune(OnnxModel model, double sparsity, IReadOnlyList<string>? exclude = null)
    {
        if (!(sparsity > 0 && sparsity < 1))
        {
            throw PruningErrors.Fraction(sparsity, model.DisplayName);
        }
        var working = model.Clone();
        var graph = working.Proto.Graph;
        var initializers = Enumerable.Range(0, graph.Initializer.Count).ToDictionary(i => graph.Initializer[i].Name);
        var patterns = (exclude ?? Array.Empty<string>()).Select(p => new Regex("^" + Regex.Escape(p).Replace("\\*", ".*") + "$")).ToList();
        var weights = graph.Node
            .Where(n => n.OpType is "Gemm" or "MatMul" or "Conv" && n.Input.Count > 1 && initializers.ContainsKey(n.Input[1]))
            .Where(n => !patterns.Any(r => r.IsMatch(n.Name) || r.IsMatch(n.Input[1])))
            .Select(n => n.Input[1]).Distinct().ToList();
        long parameters = 0, zerosBefore = 0, zerosAfter = 0;
        var touched = new List<string>();
        foreach (string name in weights)
        {
            var tensor = graph.Initializer[initializers[name]];
            if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
            {
                continue;
            }
            float[] values = TensorData.ToSingleArray(tensor);
            parameters += values.Length;
            zerosBefore += values.Count(v => v == 0);
            int k = (int)Math.Round(sparsity * values.Length, MidpointRounding.AwayFromZero);
            // Stable order by magnitude, then index: deterministic when magnitudes tie.
            var order = Enumerable.Range(0, values.Length).OrderBy(i => Math.Abs(values[i])).ThenBy(i => i).Take(k);
            foreach (int i in order)
            {
                values[i] = 0;
            }
            zerosAfter += values.Count(v => v == 0);
            TensorData.SetData<float>(tensor, values);
            touched.Add(name);
        }
        if (touched.Count == 0)
        {
            throw new ArgumentException($"'{model.DisplayName}' has no float Gemm, MatMul or Conv weight to prune.");
        }
        working.InvalidateGraph();
        return new UnstructuredPruningResult(working, parameters, zerosBefore, zerosAfter, touched);
    }
}
