namespace ModelBuild.Compression.Quantization;

/// <summary>
/// A streaming histogram of one activation tensor with a fixed number of bins over a symmetric range [-R, R]
/// that doubles when a batch exceeds it (merging bin pairs, which is exact). Memory is constant in the number of
/// samples: this is what keeps calibration bounded where keeping every activation is not.
/// </summary>
public sealed class ActivationHistogram
{
    public const int DefaultBins = 2048;
    private long[] _counts;

    public ActivationHistogram(int bins = DefaultBins)
    {
        if (bins % 4 != 0) throw new ArgumentException("Bin count must be a multiple of 4.", nameof(bins));
        _counts = new long[bins];
    }

    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;
    /// <summary>Half-width R of the binned range [-R, R].</summary>
    public double Range { get; private set; }
    public long Total { get; private set; }
    public ReadOnlySpan<long> Counts => _counts;
    public int Bins => _counts.Length;
    public double BinWidth => 2 * Range / Bins;

    public void Add(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) return;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (var v in values)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        var absMax = Math.Max(Math.Abs((double)min), Math.Abs((double)max));
        if (Range == 0) Range = absMax > 0 ? absMax : 1e-8;
        while (absMax > Range) Double();
        var bins = _counts.Length;
        var scale = bins / (2 * Range);
        foreach (var v in values)
        {
            var index = (int)((v + Range) * scale);
            _counts[Math.Clamp(index, 0, bins - 1)]++;
        }
        Total += values.Length;
    }

    /// <summary>Doubles R: old bin i lands in new bin (i + B/2) / 2, because old edges are new edges.</summary>
    private void Double()
    {
        var bins = _counts.Length;
        var merged = new long[bins];
        for (var i = 0; i < bins; i++) merged[(i + bins / 2) / 2] += _counts[i];
        _counts = merged;
        Range *= 2;
    }

    /// <summary>Lower edge of bin <paramref name="i"/>.</summary>
    public double Edge(int i) => -Range + i * BinWidth;
}
