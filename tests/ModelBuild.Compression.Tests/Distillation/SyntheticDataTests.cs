using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation.Synthetic;

namespace ModelBuild.Compression.Tests.Distillation;

[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public sealed class SyntheticDataTests
{
    [Fact]
    public void Token_sequences_recombine_only_bigrams_seen_in_the_samples_and_are_seeded()
    {
        var x = NpyArray.Read(new TeacherCase("synthetic-intent-transformer").File("calib_x.npy"));
        var ids = x.ToInt64Array();
        int rows = (int)x.Rows, length = (int)x.RowLength;
        var seen = new HashSet<(long, long)>();
        for (int r = 0; r < rows; r++)
            for (int i = 0; i + 1 < length && ids[r * length + i + 1] != 0; i++) seen.Add((ids[r * length + i], ids[r * length + i + 1]));

        var generated = TokenSequenceSynthesizer.Generate(ids, rows, length, 500, seed: 1);
        Assert.Equal(generated, TokenSequenceSynthesizer.Generate(ids, rows, length, 500, seed: 1));
        Assert.NotEqual(generated, TokenSequenceSynthesizer.Generate(ids, rows, length, 500, seed: 2));
        int novel = 0;
        var realRows = Enumerable.Range(0, rows).Select(r => string.Join(",", ids.Skip(r * length).Take(length))).ToHashSet();
        for (int s = 0; s < 500; s++)
        {
            var row = generated.Skip(s * length).Take(length).ToArray();
            Assert.NotEqual(0, row[0]);
            int n = Array.IndexOf(row, 0L) is var z and >= 0 ? z : length;
            Assert.All(row.Skip(n), t => Assert.Equal(0, t)); // right-padded like the samples
            for (int i = 0; i + 1 < n; i++) Assert.Contains((row[i], row[i + 1]), seen);
            if (!realRows.Contains(string.Join(",", row))) novel++;
        }
        Assert.True(novel > 100, $"only {novel} of 500 sequences are new combinations");
    }

    [Fact]
    public void Tabular_rows_follow_the_per_feature_statistics()
    {
        var x = NpyArray.Read(new TeacherCase("wine-mlp").File("calib_x.npy"));
        int rows = (int)x.Rows, features = (int)x.RowLength;
        var real = x.ToSingleArray();
        var generated = TabularSynthesizer.Generate(real, rows, features, 4000, seed: 0);
        Assert.Equal(generated, TabularSynthesizer.Generate(real, rows, features, 4000, seed: 0));
        for (int f = 0; f < features; f++)
        {
            double realMean = Enumerable.Range(0, rows).Average(r => real[r * features + f]);
            double genMean = Enumerable.Range(0, 4000).Average(r => generated[r * features + f]);
            Assert.InRange(genMean, realMean - 0.15, realMean + 0.15); // standardized features: std 1
        }
    }
}
