namespace ModelBuild.Compression.Distillation.Synthetic;

/// <summary>
/// Synthetic tabular inputs from a few real rows, for output mimicry when training data is scarce: half the rows are
/// mixup of two random real rows (lambda ~ U(0,1)) and half are drawn feature by feature from a normal distribution
/// with each feature's mean and standard deviation. The teacher labels them (its soft outputs are the targets).
/// Deterministic for a seed.
/// </summary>
public static class TabularSynthesizer
{
    /// <param name="samples">Real rows, row-major [rows, features].</param>
    public static float[] Generate(float[] samples, int rows, int features, int count, int seed)
    {
        if (rows < 1) throw new ArgumentException("At least one real row is needed.", nameof(samples));
        var random = new Random(seed);
        var mean = new double[features];
        var std = new double[features];
        for (int f = 0; f < features; f++)
        {
            double s = 0, s2 = 0;
            for (int r = 0; r < rows; r++) { double v = samples[r * features + f]; s += v; s2 += v * v; }
            mean[f] = s / rows;
            std[f] = Math.Sqrt(Math.Max(s2 / rows - mean[f] * mean[f], 0));
        }
        var result = new float[count * features];
        for (int i = 0; i < count; i++)
        {
            if (i % 2 == 0)
            {
                int a = random.Next(rows), b = random.Next(rows);
                double lambda = random.NextDouble();
                for (int f = 0; f < features; f++)
                    result[i * features + f] = (float)(lambda * samples[a * features + f] + (1 - lambda) * samples[b * features + f]);
            }
            else
            {
                for (int f = 0; f < features; f++)
                    result[i * features + f] = (float)(mean[f] + std[f] * Gaussian(random));
            }
        }
        return result;
    }

    static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
