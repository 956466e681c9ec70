using ModelBuild.Onnx.Graph;
using ModelBuild.Compression.Data;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The latency gate for a candidate that ONNX Runtime runs with the float model's own operators. int8-weights stores
/// int8 weights as Cast + Mul on initializers, which ONNX Runtime folds into float tensors when the session loads, so
/// the session executes exactly the float graph's kernels: it cannot be slower than float, and a measured difference is
/// the measurement's noise (on a shared machine paired ratios of 1.07x were seen for such identical graphs). The gate
/// exists to keep out forms whose kernels cost more than float's, so for these the fact, checked on the optimized
/// graphs ONNX Runtime itself produces, decides instead of the noisy figure. Then "among candidates within the noise of
/// the fastest, the smallest file" (<see cref="AutoQuantizer"/>) keeps the 4x smaller file rather than float.
/// </summary>
public static class FloatKernelMatch
{
    /// <summary>Why a candidate the measurement called slower passes (shown in its report row).</summary>
    public const string Note = "runs the float model's operators once ONNX Runtime has folded its weights at load (same optimized graph), so it cannot be slower than float; the measured difference is noise";

    /// <summary>
    /// <paramref name="gate"/>'s verdict on <paramref name="candidate"/>, except that a candidate whose optimized graph
    /// equals float's passes (with <see cref="Note"/>). The graphs are compared only when the measurement failed it.
    /// </summary>
    public static string? Check(LatencyGate gate, string floatModel, double? floatMicroseconds, QuantizationCandidate candidate)
    {
        var failure = gate.Check(floatMicroseconds, candidate.LatencyMicroseconds, candidate.LatencyRatioToFloat);
        if (failure is null || !SameOperators(floatModel, candidate.Path)) return failure;
        candidate.LatencyNote = Note;
        return null;
    }

    /// <summary>
    /// Whether ONNX Runtime, at the optimization level the latency gate times with, turns both files into graphs of
    /// the same operators (the multiset of domain and type of every node of the optimized model it writes).
    /// </summary>
    public static bool SameOperators(string floatModel, string candidate)
    {
        // A graph ONNX Runtime cannot write back (e.g. over protobuf's 2 GB) proves nothing: the measurement decides then.
        try { return Operators(floatModel).SequenceEqual(Operators(candidate)); }
        catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or ModelBuild.Onnx.Diagnostics.ModelBuildException or IOException or Google.Protobuf.InvalidProtocolBufferException)
        {
            return false;
        }
    }

    static List<string> Operators(string model)
    {
        var folder = Directory.CreateTempSubdirectory("mb-kernels-");
        try
        {
            var optimized = Path.Combine(folder.FullName, "optimized.onnx");
            using (var options = OrtSessions.CreateOptions(1))
            {
                options.OptimizedModelFilePath = optimized;
                using var session = OrtSessions.Open(model, options);
            }
            // Nodes of If/Loop/Scan bodies count too: a form that quantizes only inside bodies is not float's graph.
            return GraphTraversal.AllNodes(OnnxModelAccess.Load(optimized).Graph).Select(n => n.Domain + ":" + n.OpType).Order(StringComparer.Ordinal).ToList();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
