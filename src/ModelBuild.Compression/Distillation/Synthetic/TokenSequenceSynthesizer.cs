namespace ModelBuild.Compression.Distillation.Synthetic;

/// <summary>
/// Synthetic token-id sequences that recombine the bigrams seen in real samples: each sequence starts with a real
/// first token, continues with a successor that followed the previous token somewhere in the samples, and takes
/// a length drawn from the real lengths. Padding (id 0) fills the rest, as in the samples. Deterministic for a seed.
/// </summary>
public static class TokenSequenceSynthesizer
{
    public static long[] Generate(long[] samples, int rows, int length, int count, int seed, long padId = 0)
    {
        var random = new Random(seed);
        var successors = new Dictionary<long, List<long>>();
        var starts = new List<long>();
        var lengths = new List<int>();
        for (int r = 0; r < rows; r++)
        {
            int n = 0;
            while (n < length && samples[r * length + n] != padId) n++;
            if (n == 0) continue;
            lengths.Add(n);
            starts.Add(samples[r * length]);
            for (int i = 0; i + 1 < n; i++)
            {
                long a = samples[r * length + i];
                if (!successors.TryGetValue(a, out var list)) successors[a] = list = new List<long>();
                list.Add(samples[r * length + i + 1]);
            }
        }
        if (starts.Count == 0) throw new ArgumentException("The samples hold no non-padding tokens.", nameof(samples));
        var result = new long[count * length];
        for (int s = 0; s < count; s++)
        {
            int n = lengths[random.Next(lengths.Count)];
            long token = starts[random.Next(starts.Count)];
            for (int i = 0; i < n; i++)
            {
                result[s * length + i] = token;
                if (!successors.TryGetValue(token, out var next)) break;
                token = next[random.Next(next.Count)];
            }
        }
        return result;
    }
}
