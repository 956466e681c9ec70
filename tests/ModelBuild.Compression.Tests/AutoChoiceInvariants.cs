using System.Text.Json.Nodes;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// What an <c>auto</c> quantize report must satisfy whatever this CPU measured, so that a test holds in every branch
/// instead of branching on the product's own choice: each candidate's "passed" is recomputed here from its figures and
/// the test's own thresholds; a passing candidate means something quantized was written (auto may not keep float then);
/// float is written only when every candidate failed, with MB0205; the written file is the chosen form.
/// </summary>
internal static class AutoChoiceInvariants
{
    public const double LatencyNoise = 1.03;

    /// <summary>How far two ratios the report rounds to 3 decimals can move a comparison of one (times the noise) with the other.</summary>
    const double RatioRounding = 0.0005 * LatencyNoise + 0.0005;

    public static void Hold(CompressionReport report, string teacher, string output, double maxDrop, double minAgreement, double? floatAccuracy)
    {
        var details = TestMaterials.QuantizeDetails(report);
        var candidates = details["candidates"]!.AsArray().Select(c => c!.AsObject()).ToList();
        Assert.NotEmpty(candidates);
        foreach (var c in candidates)
        {
            var form = c["form"]!.GetValue<string>();
            var accurate = c["agreement"]!.GetValue<double>() >= minAgreement - 1e-9
                && (floatAccuracy is not { } fa || fa - c["accuracy"]!.GetValue<double>() <= maxDrop + 1e-9);
            var ratio = c["latencyRatioToFloat"]!.GetValue<double>();
            // int8-weights runs float's own kernels once ONNX Runtime folds its weights: not slower whatever was measured.
            var notSlower = ratio <= LatencyNoise || form == Int8WeightStorage.FormName;
            // The report rounds the ratio; one that rounds to the noise bound itself may have been either side of it.
            var onTheBound = Math.Abs(ratio - LatencyNoise) < 0.0006;
            if (onTheBound && accurate) continue;
            Assert.True((accurate && notSlower) == c["passed"]!.GetValue<bool>(),
                $"{form}: accurate={accurate}, notSlower={notSlower}, but the report says passed={c["passed"]} ({c["reason"]})");
        }

        var chosen = details["chosen"]!.GetValue<string>();
        var passing = candidates.Where(c => c["passed"]!.GetValue<bool>()).ToList();
        if (passing.Count > 0)
        {
            // Something passed: auto must quantize, with a passing form, and write it.
            var c = Assert.Single(candidates, c => c["form"]!.GetValue<string>() == chosen);
            Assert.True(c["passed"]!.GetValue<bool>(), $"auto chose {chosen}, which did not pass");
            Assert.NotEqual(File.ReadAllBytes(teacher), File.ReadAllBytes(output));
            Assert.Equal(c["bytes"]!.GetValue<long>(), new FileInfo(output).Length);
            Assert.True(report.Result.Bytes < report.Teacher.Bytes);
            // Nothing passing is both faster beyond the noise and no larger. Auto chose on the unrounded ratios and the
            // report rounds them to 3 decimals, so a candidate on the noise bound may sit up to RatioRounding past it here.
            var speed = c["latencyRatioToFloat"]!.GetValue<double>();
            Assert.DoesNotContain(passing, p => p["latencyRatioToFloat"]!.GetValue<double>() * LatencyNoise < speed - RatioRounding);
        }
        else
        {
            Assert.Equal("float (unchanged)", chosen);
            Assert.Equal(File.ReadAllBytes(teacher), File.ReadAllBytes(output));
            Assert.Contains(report.Warnings, w => w.StartsWith("MB0205"));
        }
        Assert.True(report.Result.Agreement >= minAgreement);
        if (floatAccuracy is not null) Assert.True(report.Teacher.Accuracy - report.Result.Accuracy <= maxDrop + 1e-9);
    }

    /// <summary>True when the file stores weights in 8 bits or fewer (every quantized form does; float models never).</summary>
    public static bool IsQuantized(string path) =>
        OnnxModelAccess.Load(path).Graph.Initializer.Any(t => (global::Onnx.TensorProto.Types.DataType)t.DataType is
            global::Onnx.TensorProto.Types.DataType.Int8 or global::Onnx.TensorProto.Types.DataType.Uint8
            or global::Onnx.TensorProto.Types.DataType.Int4 or global::Onnx.TensorProto.Types.DataType.Uint4);
}
