namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The choice among measured candidates: among those that pass the accuracy and latency gates, the fastest;
/// among candidates within the latency noise of the fastest, the smallest file. None passing: keep float.
/// With <c>force</c> (--force) the latency gate no longer rules a candidate out, as it does for an explicit form:
/// the fastest accurate candidate is kept even when it is slower than float on this CPU at this moment.
/// With <c>preferSize</c> (--prefer size) bytes weigh over latency: among the passing candidates, the smallest file;
/// among files within <paramref name="noise"/> of the smallest, the fastest. The gates are the same either way.
/// </summary>
public static class AutoQuantizer
{
    public static QuantizationCandidate? Choose(IEnumerable<QuantizationCandidate> candidates, bool force = false, double noise = 0.03, bool preferSize = false)
    {
        var passing = candidates.Where(c => force ? c.AccuracyFailure is null && c.SizeFailure is null : c.Passed).ToList();
        if (passing.Count == 0) return null;
        // Paired ratios to float are the steadier figure on a loaded machine; medians when no ratio was measured.
        double Speed(QuantizationCandidate c) => c.LatencyRatioToFloat ?? c.LatencyMicroseconds ?? double.MaxValue;
        if (preferSize)
        {
            var smallest = passing.Min(c => c.Bytes);
            return passing.Where(c => c.Bytes <= smallest * (1 + noise)).OrderBy(Speed).ThenBy(c => c.Bytes).First();
        }
        var fastest = passing.Min(Speed);
        return passing
            .Where(c => Speed(c) <= fastest * (1 + noise))
            .OrderBy(c => c.Bytes)
            .ThenBy(Speed)
            .First();
    }
}
