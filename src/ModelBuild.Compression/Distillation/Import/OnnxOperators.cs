using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Import;

/// <summary>Runs one ONNX node on TorchSharp tensors and returns its outputs in order.</summary>
public delegate Tensor[] OnnxKernel(OnnxNodeContext context);

/// <summary>
/// The ONNX operators the importer executes, by op type (default domain), with ONNX semantics (broadcasting,
/// negative axes, attribute defaults, opset differences). Each partial file holds one family of operators.
/// </summary>
public static partial class OnnxOperators
{
    static readonly Dictionary<string, OnnxKernel> Kernels = BuildRegistry();

    public static IReadOnlyCollection<string> SupportedOperators => Kernels.Keys;

    public static bool IsSupported(string domain, string opType) =>
        (domain.Length == 0 || domain == "ai.onnx") && Kernels.ContainsKey(opType);

    public static OnnxKernel Get(string opType) => Kernels[opType];

    static Dictionary<string, OnnxKernel> BuildRegistry()
    {
        var r = new Dictionary<string, OnnxKernel>(StringComparer.Ordinal);
        RegisterElementwise(r);
        RegisterShapeOperators(r);
        RegisterReductions(r);
        RegisterNeuralNetworkOperators(r);
        return r;
    }

    static Tensor[] One(Tensor t) => new[] { t };

    static bool IsFloating(Tensor t) => t.dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;

    /// <summary>Numpy/ONNX multidirectional broadcast of two shapes.</summary>
    internal static long[] BroadcastShapes(long[] a, long[] b)
    {
        int n = Math.Max(a.Length, b.Length);
        var r = new long[n];
        for (int i = 0; i < n; i++)
        {
            long da = i < n - a.Length ? 1 : a[i - (n - a.Length)];
            long db = i < n - b.Length ? 1 : b[i - (n - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new InvalidOperationException($"Shapes [{string.Join(",", a)}] and [{string.Join(",", b)}] do not broadcast.");
            r[i] = da == 1 ? db : da;
        }
        return r;
    }
}
