using ModelBuild.Compression.Quantization;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// The latency gate's rule for forms that run float's own kernels (<see cref="FloatKernelMatch"/>), on the real
/// synthetic-intent student after the optimize stage's auto fusions (fused Attention, trimmed sequence): ONNX Runtime
/// folds int8-weights' Cast + Mul into the float graph (so it passes even when its measurement said slower), while
/// int8-dynamic runs other kernels (so a measured slowdown still fails it).
/// </summary>
public class FloatKernelMatchTests
{
    [Fact]
    public void Int8_weights_runs_the_float_operators_and_passes_a_noisy_slower_measurement_while_int8_dynamic_does_not()
    {
        var (dir, _, _, _, fused, optimized, prepared) = FusedIntentStudent();
        Assert.Contains(optimized.Fusions, f => f.Name == "Attention" && f.Kept);
        var weights = Path.Combine(dir, "weights.onnx");
        OnnxModelAccess.Save(new Int8WeightStorage().Quantize(prepared).Model, weights);
        var dynamic = Path.Combine(dir, "dynamic.onnx");
        OnnxModelAccess.Save(new DynamicInt8Quantizer().Quantize(prepared, new QuantizeRequest(new HashSet<string>())).Model, dynamic);

        Assert.True(FloatKernelMatch.SameOperators(fused, weights));
        Assert.False(FloatKernelMatch.SameOperators(fused, dynamic));

        // A measurement that called each 20% slower than float (beyond the gate's 3%).
        var gate = new LatencyGate();
        var asWeights = new QuantizationCandidate { Form = "int8-weights", Path = weights, LatencyMicroseconds = 60, LatencyRatioToFloat = 1.2 };
        var asDynamic = new QuantizationCandidate { Form = "int8-dynamic", Path = dynamic, LatencyMicroseconds = 60, LatencyRatioToFloat = 1.2 };
        Assert.Null(FloatKernelMatch.Check(gate, fused, 50, asWeights));
        asWeights.GatesChecked.Add(LatencyGate.Name);
        Assert.Equal(FloatKernelMatch.Note, asWeights.LatencyNote);
        Assert.Contains(FloatKernelMatch.Note, asWeights.ToJson()["reason"]!.GetValue<string>());
        Assert.StartsWith("slower than float", FloatKernelMatch.Check(gate, fused, 50, asDynamic));
        Assert.Null(asDynamic.LatencyNote);
        // Not slower by measurement: the gate passes it without the note.
        var fast = new QuantizationCandidate { Form = "int8-dynamic", Path = dynamic, LatencyMicroseconds = 45, LatencyRatioToFloat = 0.9 };
        Assert.Null(FloatKernelMatch.Check(gate, fused, 50, fast));
        Assert.Null(fast.LatencyNote);
    }
}
