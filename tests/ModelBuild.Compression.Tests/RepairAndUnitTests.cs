using ModelBuild.Compression.Quantization;

namespace ModelBuild.Compression.Tests;

public class RepairTests
{
    /// <summary>
    /// The PyTorch MNIST CNN in static int8 agrees with float on 99.95% of 2,000 images; asking for 100% makes the
    /// repair keep its least faithful layers float until the gate holds, and the report lists them.
    /// </summary>
    [Fact]
    public void Repair_keeps_the_most_sensitive_layers_float_until_the_agreement_gate_holds()
    {
        var dir = TestMaterials.TempDir();
        Func<byte, float> scale = p => (p / 255f - 0.1307f) / 0.3081f;
        var (x, y) = TestMaterials.Mnist(0, 2000, scale);
        // Eight calibration images: ranges too narrow for some layers, so int8 alone misses 100% agreement and the
        // repair has layers to keep float (with 256 images and 7-bit weights int8 already agrees on all 2,000).
        var (calib, _) = TestMaterials.Mnist(5000, 8, scale);
        var recipe = new Pipeline.Contract.CompressionRecipe
        {
            Teacher = TestMaterials.Model("mnist-cnn-pytorch"),
            Output = Path.Combine(dir, "out.onnx"),
            Quantize = "int8-static",
            CalibrationData = TestMaterials.SaveNpy(dir, "calib.npy", calib, 8, 1, 28, 28),
            EvaluationData = TestMaterials.SaveNpy(dir, "x.npy", x, 2000, 1, 28, 28),
            EvaluationLabels = TestMaterials.SaveNpy(dir, "y.npy", y, 2000),
            MinAgreement = 100,
            Force = true,
        };
        var report = TestMaterials.Run(recipe, Path.Combine(dir, "r.json"));
        var details = TestMaterials.QuantizeDetails(report);
        var kept = details["layersKeptFloat"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
        Assert.NotEmpty(kept);
        Assert.Equal(100, report.Result.Agreement);
        var model = OnnxModelAccess.Load(recipe.Output);
        // The kept layers still read float weights; the others are quantized.
        var floatNodes = QuantizableNode.Find(model.Graph).Select(n => n.Name).ToHashSet();
        Assert.All(kept, k => Assert.Contains(k, floatNodes));
        Assert.Contains(model.Graph.Node, n => n.OpType == "QuantizeLinear");
        Assert.Contains(kept[0], File.ReadAllText(Path.Combine(dir, "r.md")));
    }
}

public class QuantizationMathTests
{
    [Fact]
    public void Activation_zero_is_exactly_representable_and_relu_ranges_use_the_full_int8_range()
    {
        var p = QuantizationMath.Int8Activation(-1.3f, 2.9f);
        var zero = QuantizationMath.Dequantize(p.ZeroPoints[0], p.Scales[0], p.ZeroPoints[0]);
        Assert.Equal(0f, zero);
        var relu = QuantizationMath.Int8Activation(0f, 6f);
        Assert.Equal(-128, relu.ZeroPoints[0]);
        Assert.Equal(6f / 255f, relu.Scales[0], 6);
    }

    [Fact]
    public void Per_channel_weights_use_each_channels_own_scale_and_stay_within_127()
    {
        // Two output channels (axis 0) of very different magnitude.
        float[] w = [0.01f, -0.02f, 0.005f, 10f, -5f, 2.5f];
        var (q, p) = QuantizationMath.Int8WeightsSymmetric(w, [2, 3], 0);
        Assert.Equal(0.02f / 127, p.Scales[0], 6);
        Assert.Equal(10f / 127, p.Scales[1], 6);
        Assert.Equal(-127, q[1]);
        Assert.Equal(127, q[3]);
        Assert.All(q, v => Assert.InRange(v, -127, 127));
        var perTensor = QuantizationMath.Int8WeightsSymmetric(w, [2, 3], null);
        Assert.Equal(0, perTensor.Values[2]); // the small channel collapses without per-channel scales
    }

    [Fact]
    public void Int4_blocks_round_trip_within_half_a_step_and_pack_two_codes_per_byte()
    {
        var rows = TestMaterials.Random(2 * 40, 3, -1, 1); // N=2, K=40 -> 2 blocks each, the second padded
        var (packed, scales, blocks) = Int4WeightQuantizer.QuantizeBlocks(rows, 2, 40);
        Assert.Equal(2, blocks);
        Assert.Equal(2 * 2 * 16, packed.Length);
        for (var r = 0; r < 2; r++)
            for (var k = 0; k < 40; k++)
            {
                var b = k / 32; var i = k % 32;
                var code = packed[(r * blocks + b) * 16 + i / 2];
                var nibble = i % 2 == 0 ? code & 0x0F : code >> 4;
                var value = (nibble - 8) * scales[r * blocks + b];
                var step = Math.Abs(scales[r * blocks + b]);
                var original = rows[r * 40 + k];
                // Codes span [-8, 7] steps: values within 7 steps round to the nearest step; the block's extreme maps to -8
                // exactly, and values of the other sign beyond 7 steps clip by less than one step (as in MLAS).
                var bound = Math.Abs(original) <= 7 * step ? step / 2 : step;
                Assert.True(Math.Abs(value - original) <= bound + 1e-6, $"{value} vs {original}");
            }
    }
}

public class CalibrationTests
{
    [Fact]
    public void Histogram_growth_keeps_every_count_and_the_exact_min_max()
    {
        var h = new ActivationHistogram(64);
        h.Add([0.1f, -0.2f, 0.3f]);
        h.Add([5f, -7f]);   // forces the range to double several times
        h.Add([100f]);
        Assert.Equal(6, h.Total);
        long sum = 0;
        foreach (var c in h.Counts) sum += c;
        Assert.Equal(6, sum);
        Assert.Equal(-7f, h.Min);
        Assert.Equal(100f, h.Max);
        Assert.True(h.Range >= 100);
        // After the merges each value still sits in the bin whose range contains it.
        Assert.Equal(1, h.Counts[(int)((100 + h.Range) / h.BinWidth)]);
        Assert.True(h.Counts[(int)((-7 + h.Range) / h.BinWidth)] >= 1);
    }

    [Fact]
    public void Percentile_and_entropy_clip_rare_outliers_that_minmax_keeps()
    {
        var h = new ActivationHistogram();
        var r = new Random(5);
        var values = new float[100_000];
        for (var i = 0; i < values.Length; i++) values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
        values[0] = 60f; // one outlier
        h.Add(values);
        var minmax = HistogramCalibrator.Range(h, CalibrationMethod.MinMax);
        var percentile = HistogramCalibrator.Range(h, CalibrationMethod.Percentile);
        var entropy = HistogramCalibrator.Range(h, CalibrationMethod.Entropy);
        Assert.Equal(60f, minmax.Max);
        Assert.InRange(percentile.Max, 3f, 10f);
        Assert.InRange(entropy.Max, 2f, 20f);
        Assert.True(entropy.Min < -2f);
    }

    [Fact]
    public void Histogram_memory_does_not_depend_on_the_number_of_values()
    {
        var h = new ActivationHistogram();
        var before = h.Counts.Length;
        for (var i = 0; i < 50; i++) h.Add(TestMaterials.Random(10_000, i, -i, i));
        Assert.Equal(before, h.Counts.Length);
        Assert.Equal(500_000, h.Total);
    }
}

public class AutoQuantizerTests
{
    private static QuantizationCandidate Candidate(string form, long bytes, double ratio, string? accuracyFailure = null, string? latencyFailure = null) =>
        new() { Form = form, Path = form + ".onnx", Bytes = bytes, LatencyRatioToFloat = ratio, AccuracyFailure = accuracyFailure, LatencyFailure = latencyFailure };

    [Fact]
    public void Auto_keeps_the_smallest_of_the_fastest_passing_candidates_and_float_when_none_passes()
    {
        var candidates = new[]
        {
            Candidate("int8-static", 1000, 0.80),
            Candidate("int8-dynamic", 900, 0.81),
            Candidate("int8-weights", 800, 1.00),
        };
        Assert.Equal("int8-dynamic", AutoQuantizer.Choose(candidates)!.Form); // within 3% of the fastest, and smaller
        var slow = new[] { Candidate("int8-static", 1000, 1.20, latencyFailure: "slower"), Candidate("int8-weights", 800, 1.05, latencyFailure: "slower") };
        Assert.Null(AutoQuantizer.Choose(slow));
    }

    [Fact]
    public void Force_lets_auto_keep_a_slower_candidate_but_never_an_inaccurate_one()
    {
        var candidates = new[]
        {
            Candidate("int8-static", 1000, 0.90, accuracyFailure: "drops 3 points"),
            Candidate("int8-dynamic", 900, 1.10, latencyFailure: "slower"),
            Candidate("int8-weights", 800, 1.05, latencyFailure: "slower"),
        };
        Assert.Null(AutoQuantizer.Choose(candidates));
        Assert.Equal("int8-weights", AutoQuantizer.Choose(candidates, force: true)!.Form);
        Assert.Null(AutoQuantizer.Choose([candidates[0]], force: true));
    }
}
