using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// Teacher-labelled variants of float feature rows (<c>--augment N</c> on tabular or image data): each variant of a
/// training row is the mixup <c>lambda * row + (1 - lambda) * other</c> with another training row drawn uniformly and
/// lambda ~ U(0,1), the same partner and lambda for every input of the row. The teacher labels the mixtures, so the
/// student matches the teacher's function between the training points too ("function matching", Beyer et al. 2022,
/// "Knowledge distillation: A good teacher is patient and consistent"), not only on the few points a small data set
/// has. Deterministic for a seed.
/// </summary>
internal static class MixupAugmentation
{
    /// <summary>True when every input holds floating-point values (mixtures of token ids would be meaningless).</summary>
    public static bool Applies(TrainingInputs inputs) => inputs.ByName().Values.All(t => t.is_floating_point());

    /// <summary><paramref name="variants"/> mixtures of each of <paramref name="rows"/>, row by row (row k's at k * variants ...).</summary>
    public static TrainingInputs Generate(TrainingInputs inputs, int[] rows, int variants, int seed)
    {
        if (rows.Length == 0 || variants <= 0) throw new ArgumentException("At least one row and one variant are needed.");
        var random = new Random(seed);
        var first = new long[rows.Length * variants];
        var second = new long[first.Length];
        var lambdas = new float[first.Length];
        for (int k = 0, at = 0; k < rows.Length; k++)
            for (int v = 0; v < variants; v++, at++)
            {
                first[at] = rows[k];
                second[at] = rows[random.Next(rows.Length)];
                lambdas[at] = (float)random.NextDouble();
            }
        using var scope = torch.NewDisposeScope();
        var a = torch.tensor(first);
        var b = torch.tensor(second);
        var byName = inputs.ByName();
        var mixed = inputs.Names.Select(name =>
        {
            var x = byName[name];
            // lambda as [n, 1, 1, ...] so that it scales whole rows of any rank.
            var lambda = torch.tensor(lambdas).to_type(x.dtype).reshape([lambdas.Length, .. Enumerable.Repeat(1L, (int)x.dim() - 1)]);
            var row = x.index_select(0, a);
            var other = x.index_select(0, b);
            return (name, other.add(lambda * (row - other), Kept.One).MoveToOuterDisposeScope());
        }).ToList();
        return new TrainingInputs(mixed);
    }
}
