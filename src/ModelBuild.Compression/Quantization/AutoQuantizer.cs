namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The choice among measured candidates: among those that pass the accuracy and latency gates, the fastest;
/// among candidates within the latency noise of the fastest, the smallest file. None passing: keep float.
/// </summary>
public static class AutoQuantizer
{
    public static QuantizationCandidate? Choose(IEnumerable<QuantizationCandidate> candidates, double noise = 0.03)
    {
        var passing = candidates.Where(c => c.Passed).ToList();
        if (passing.Count == 0) return null;
        var fastest = passing.Min(c => c.LatencyMicroseconds ?? double.MaxValue);
        return passing
            .Where(c => (c.LatencyMicroseconds ?? double.MaxValue) <= fastest * (1 + noise))
            .OrderBy(c => c.Bytes)
            .ThenBy(c => c.LatencyMicroseconds ?? double.MaxValue)
            .First();
    }

    /// <summary>The forms `auto` tries: every int8 form and int4 for MatMul-heavy models; fp16 is left out because CPUs gain no speed from it.</summary>
    public static IReadOnlyList<QuantizationMode> Forms(bool hasCalibrationData, bool hasMatMulOrGemm)
    {
        var forms = new List<QuantizationMode>();
        if (hasCalibrationData) forms.Add(QuantizationMode.Int8Static);
        if (hasMatMulOrGemm) forms.Add(QuantizationMode.Int8Dynamic);
        forms.Add(QuantizationMode.Int8Weights);
        return forms;
    }
}
