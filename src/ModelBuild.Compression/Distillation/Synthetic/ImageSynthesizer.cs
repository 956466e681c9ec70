namespace ModelBuild.Compression.Distillation.Synthetic;

/// <summary>
/// Synthetic images from a few real ones, for output mimicry: each is the mixup of two random real images
/// (lambda ~ Beta(alpha, alpha), alpha 0.4 as in Zhang et al.'s mixup, so most are close to one of the two) plus
/// Gaussian pixel noise with a standard deviation of <see cref="NoiseFraction"/> times the data's own, clamped to the
/// range the real pixels span (a 0..1 or normalized input stays in its range). The teacher labels them.
/// Deterministic for a seed.
/// </summary>
public static class ImageSynthesizer
{
    public const double MixupAlpha = 0.4;
    public const double NoiseFraction = 0.1;

    /// <param name="samples">Real images, [rows, sampleSize] (each sample C x H x W in NCHW order).</param>
    public static float[] Generate(float[] samples, int rows, int sampleSize, int count, int seed)
    {
        if (rows < 1) throw new ArgumentException("At least one real image is needed.", nameof(samples));
        var random = new Random(seed);
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        double sum = 0, sum2 = 0;
        foreach (var v in samples) { min = Math.Min(min, v); max = Math.Max(max, v); sum += v; sum2 += (double)v * v; }
        var mean = sum / samples.Length;
        var noise = NoiseFraction * Math.Sqrt(Math.Max(sum2 / samples.Length - mean * mean, 0));
        var result = new float[checked(count * sampleSize)];
        for (var i = 0; i < count; i++)
        {
            int a = random.Next(rows), b = random.Next(rows);
            var lambda = Beta(random, MixupAlpha);
            var target = result.AsSpan(i * sampleSize, sampleSize);
            var first = samples.AsSpan(a * sampleSize, sampleSize);
            var second = samples.AsSpan(b * sampleSize, sampleSize);
            for (var p = 0; p < sampleSize; p++)
            {
                var value = lambda * first[p] + (1 - lambda) * second[p] + noise * Gaussian(random);
                target[p] = (float)Math.Clamp(value, min, max);
            }
        }
        return result;
    }

    /// <summary>Beta(a, a) as X / (X + Y) with X, Y ~ Gamma(a, 1).</summary>
    static double Beta(Random random, double a)
    {
        double x = Gamma(random, a), y = Gamma(random, a);
        return x + y == 0 ? 0.5 : x / (x + y);
    }

    /// <summary>Marsaglia-Tsang; for a &lt; 1, Gamma(a + 1) * U^(1/a).</summary>
    static double Gamma(Random random, double a)
    {
        if (a < 1) return Gamma(random, a + 1) * Math.Pow(random.NextDouble(), 1 / a);
        var d = a - 1.0 / 3;
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do { x = Gaussian(random); v = 1 + c * x; } while (v <= 0);
            v = v * v * v;
            var u = random.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }

    static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
