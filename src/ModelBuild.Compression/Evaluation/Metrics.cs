namespace ModelBuild.Compression.Evaluation;

/// <summary>Accuracy, agreement and signal-to-quantization-noise ratio, the figures every stage reports.</summary>
public static class Metrics
{
    /// <summary>Percent of predictions equal to the labels.</summary>
    /// <remarks>
    /// Predictions may be fewer than labels (a fixed-batch model drops a ragged tail); they are matched by index.
    /// Nothing to compare is a caller's bug, not 0%: callers check the data first (MB0510, MB0534).
    /// </remarks>
    public static double Accuracy(int[] predictions, long[] labels)
    {
        if (predictions.Length == 0 || predictions.Length > labels.Length)
            throw new ArgumentException($"{predictions.Length} prediction(s) for {labels.Length} label(s): nothing or too much to score.");
        var n = predictions.Length;
        var hits = 0;
        for (var i = 0; i < n; i++) if (predictions[i] == labels[i]) hits++;
        return 100.0 * hits / n;
    }

    /// <summary>Percent of samples where two models predict the same class (top-1 agreement).</summary>
    public static double Agreement(int[] a, int[] b)
    {
        if (a.Length == 0 || a.Length != b.Length)
            throw new ArgumentException($"{a.Length} and {b.Length} prediction(s): agreement needs the same samples on both sides.");
        var n = a.Length;
        var same = 0;
        for (var i = 0; i < n; i++) if (a[i] == b[i]) same++;
        return 100.0 * same / n;
    }

    /// <summary>SQNR in dB: 10 log10(sum(ref^2) / sum((ref - test)^2)); +inf when identical.</summary>
    public static double Sqnr(ReadOnlySpan<float> reference, ReadOnlySpan<float> test)
    {
        double signal = 0, noise = 0;
        var n = Math.Min(reference.Length, test.Length);
        for (var i = 0; i < n; i++)
        {
            double r = reference[i], d = r - test[i];
            signal += r * r; noise += d * d;
        }
        if (noise == 0) return double.PositiveInfinity;
        if (signal == 0) return double.NegativeInfinity;
        return 10 * Math.Log10(signal / noise);
    }

    public static double Median(double[] values)
    {
        if (values.Length == 0) return double.NaN;
        var sorted = values.ToArray();
        Array.Sort(sorted);
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
