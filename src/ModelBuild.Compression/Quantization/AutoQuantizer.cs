namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The choice among measured candidates: among those that pass the accuracy and latency gates, the fastest;
/// among candidates within the latency noise of the fastest, the smallest file. None passing: keep float.
/// With <c>force</c> (--force) the latency gate no longer rules a candidate out, as it does for an explicit form:
/// the fastest accurate candidate is kept even when it is slower than float on this CPU at this moment.
/// </summary>
public static class AutoQuantizer
{
    public static QuantizationCandidate? Choose(IEnumerable<QuantizationCandidate> candidates, bool force = false, double noise = 0.03)
    {
        var passing = candidates.Where(c => force ? c.AccuracyFailure is null && c.SizeFailure is null : c.Passed).ToList();
        if (passing.Count == 0) return null;
        // Paired ratios to float are the steadier figure on a loaded machine; medians when no ratio was measured.
        double Speed(QuantizationCandidate c) => c.LatencyRatioToFloat ?? c.LatencyMicroseconds ?? double.MaxValue;
        var fastest = passing.Min(Speed);
        return passing
            .Where(c => Speed(c) <= fastest * (1 + noise))
            .OrderBy(c => c.Bytes)
            .ThenBy(Speed)
            .First();
    }

    /// <summary>
    /// The forms `auto` tries: the int8 forms that fit the model. fp16 is left out because CPUs gain no speed from it;
    /// int4 because MatMulNBits measured slower than float at batch 1 on every teacher here (benchmarks/RESULTS.md)
    /// and it is chosen for size, explicitly, with its own accuracy budget.
    /// </summary>
    public static IReadOnlyList<QuantizationMode> Forms(bool hasCalibrationData, bool hasMatMulOrGemm)
    {
        var forms = new List<QuantizationMode>();
        if (hasCalibrationData) forms.Add(QuantizationMode.Int8Static);
        if (hasMatMulOrGemm) forms.Add(QuantizationMode.Int8Dynamic);
        forms.Add(QuantizationMode.Int8Weights);
        return forms;
    }
}
