using Onnx;

namespace ModelBuild.Compression.Structure;

/// <summary>The built-in ways of ranking a group's units.</summary>
public enum ImportanceCriterion
{
    /// <summary>Sum of |w| over every weight slice the unit owns in the group (inputs and outputs).</summary>
    L1,
    /// <summary>Sum of w^2 over the same slices (Torch-Pruning's default).</summary>
    L2,
    /// <summary>Mean |activation| of the unit on calibration data, over every tensor of the group.</summary>
    Activation,
    /// <summary>First-order Taylor: |sum(w * dL/dw)| over the unit's weights, gradients from the TorchSharp importer.</summary>
    Taylor,
}

/// <summary>Scores every unit of every group; higher means more important (kept first).</summary>
public interface IImportanceCriterion
{
    string Name { get; }

    /// <returns>One array per group, <c>Units</c> long.</returns>
    IReadOnlyList<double[]> Score(ModelProto model, IReadOnlyList<PruningGroup> groups);
}

/// <summary>Shared arithmetic: per-member normalization so that no single tensor dominates a group's ranking.</summary>
internal static class UnitScores
{
    /// <summary>Adds <paramref name="member"/> / mean(<paramref name="member"/>) into <paramref name="total"/> (Torch-Pruning's "mean" normalizer).</summary>
    public static void AddNormalized(double[] total, double[] member)
    {
        double mean = member.Average();
        for (int u = 0; u < total.Length; u++)
        {
            total[u] += mean > 0 ? member[u] / mean : 0;
        }
    }

    /// <summary>Per-unit reduction of a tensor laid out as <paramref name="shape"/> over everything but the span's indices.</summary>
    public static double[] Reduce(ReadOnlySpan<float> values, long[] shape, int axis, int unitSize, int offset, int units, Func<float, double> f)
    {
        long outer = shape.Take(axis).Aggregate(1L, (a, b) => a * b);
        long size = shape[axis];
        long inner = shape.Skip(axis + 1).Aggregate(1L, (a, b) => a * b);
        var result = new double[units];
        for (long o = 0; o < outer; o++)
        {
            for (int u = 0; u < units; u++)
            {
                double sum = 0;
                for (int j = 0; j < unitSize; j++)
                {
                    long start = (o * size + offset + (long)u * unitSize + j) * inner;
                    var slice = values.Slice((int)start, (int)inner);
                    foreach (float v in slice)
                    {
                        sum += f(v);
                    }
                }
                result[u] += sum;
            }
        }
        return result;
    }
}
