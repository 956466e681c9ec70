namespace ModelBuild.Compression.Quantization;

/// <summary>Turns an <see cref="ActivationHistogram"/> into a quantization range [min, max] by the chosen method.</summary>
public static class HistogramCalibrator
{
    public const double DefaultPercentile = 99.999;

    public static (float Min, float Max) Range(ActivationHistogram h, CalibrationMethod method, double percentile = DefaultPercentile)
    {
        if (h.Total == 0) return (0, 0);
        return method switch
        {
            CalibrationMethod.MinMax => (h.Min, h.Max),
            CalibrationMethod.Percentile => PercentileRange(h, percentile),
            _ => EntropyRange(h),
        };
    }

    /// <summary>Clips (100 - p)% of the values on each side, never widening past the observed min/max.</summary>
    public static (float, float) PercentileRange(ActivationHistogram h, double percentile)
    {
        var counts = h.Counts;
        var tail = h.Total * (100 - percentile) / 100.0;
        double seen = 0;
        var low = 0;
        for (; low < counts.Length; low++) { seen += counts[low]; if (seen > tail) break; }
        seen = 0;
        var high = counts.Length - 1;
        for (; high >= 0; high--) { seen += counts[high]; if (seen > tail) break; }
        var min = (float)Math.Max(h.Min, h.Edge(low));
        var max = (float)Math.Min(h.Max, h.Edge(high + 1));
        return (Math.Min(min, max), Math.Max(min, max));
    }

    /// <summary>
    /// KL-divergence threshold search over the |x| histogram (TensorRT's entropy calibration): for each candidate
    /// threshold, clip the outliers into the last bin, requantize to the target number of levels, and keep the
    /// threshold with the least information loss. Non-negative tensors (after ReLU) get 255 levels, signed 128 per side.
    /// </summary>
    public static (float, float) EntropyRange(ActivationHistogram h)
    {
        var counts = h.Counts;
        var half = counts.Length / 2;
        var abs = new double[half];
        for (var k = 0; k < half; k++) abs[k] = counts[half + k] + counts[half - 1 - k];
        var last = half;
        while (last > 1 && abs[last - 1] == 0) last--;
        var levels = h.Min >= 0 ? 255 : 128;
        var threshold = EntropyThresholdBins(abs, last, levels);
        var t = threshold * h.BinWidth;
        var min = (float)Math.Max(h.Min, -t);
        var max = (float)Math.Min(h.Max, t);
        return (min, max);
    }

    /// <summary>Number of |x| bins (from 0) whose upper edge is the best threshold.</summary>
    internal static int EntropyThresholdBins(double[] abs, int used, int levels)
    {
        if (used <= levels) return used;
        var best = used;
        var bestKl = double.PositiveInfinity;
        var p = new double[used];
        var q = new double[used];
        // A stride keeps the search linear-ish on 1024 bins without changing the optimum materially.
        var stride = Math.Max(1, (used - levels) / 256);
        for (var i = levels; i <= used; i += stride)
        {
            Array.Copy(abs, p, i);
            double outliers = 0;
            for (var k = i; k < used; k++) outliers += abs[k];
            p[i - 1] += outliers;
            // Requantize the first i bins into `levels` groups, spreading each group's mass over its non-empty bins.
            var binsPerLevel = (double)i / levels;
            for (var l = 0; l < levels; l++)
            {
                var start = (int)Math.Floor(l * binsPerLevel);
                var end = l == levels - 1 ? i : (int)Math.Floor((l + 1) * binsPerLevel);
                double sum = 0; var nonZero = 0;
                for (var k = start; k < end; k++) { sum += abs[k]; if (abs[k] != 0) nonZero++; }
                var share = nonZero == 0 ? 0 : sum / nonZero;
                for (var k = start; k < end; k++) q[k] = abs[k] != 0 ? share : 0;
            }
            var kl = KlDivergence(p.AsSpan(0, i), q.AsSpan(0, i));
            if (kl < bestKl) { bestKl = kl; best = i; }
        }
        return best;
    }

    private static double KlDivergence(ReadOnlySpan<double> p, ReadOnlySpan<double> q)
    {
        double sp = 0, sq = 0;
        foreach (var v in p) sp += v;
        foreach (var v in q) sq += v;
        if (sp == 0 || sq == 0) return double.PositiveInfinity;
        double kl = 0;
        for (var k = 0; k < p.Length; k++)
        {
            if (p[k] == 0) continue;
            var pk = p[k] / sp;
            // Bins that quantization empties (the clipped tail mass) get a small floor so KL stays finite.
            var qk = q[k] == 0 ? 1e-10 : q[k] / sq;
            kl += pk * Math.Log(pk / qk);
        }
        return kl;
    }
}
