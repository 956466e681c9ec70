using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Structure;

/// <summary>
/// L1 or L2 weight magnitude aggregated over the group: for each weight slice the group owns (producing
/// layer's rows, consuming layers' columns, BatchNorm scale, embedding columns), the unit's |w|^p summed,
/// normalized by the slice's mean over units, then summed over slices. Biases are not counted.
/// </summary>
public sealed class MagnitudeImportance : IImportanceCriterion
{
    private readonly int _p;

    public MagnitudeImportance(int p)
    {
        if (p is not (1 or 2))
        {
            throw new ArgumentOutOfRangeException(nameof(p), "p is 1 or 2");
        }
        _p = p;
    }

    public string Name => _p == 1 ? "L1" : "L2";

    public IReadOnlyList<double[]> Score(ModelProto model, IReadOnlyList<PruningGroup> groups)
    {
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        var cache = new Dictionary<string, float[]>();
        Func<float, double> f = _p == 1 ? v => Math.Abs(v) : v => (double)v * v;
        var scores = new List<double[]>();
        foreach (var group in groups)
        {
            var total = new double[group.Units];
            foreach (var slice in group.Parameters.Where(p => p.CountsForImportance))
            {
                var tensor = initializers[slice.Initializer];
                if (tensor.DataType is not ((int)TensorProto.Types.DataType.Float or (int)TensorProto.Types.DataType.Float16
                    or (int)TensorProto.Types.DataType.Double or (int)TensorProto.Types.DataType.Bfloat16))
                {
                    continue;
                }
                if (!cache.TryGetValue(slice.Initializer, out var values))
                {
                    cache[slice.Initializer] = values = TensorData.ToSingleArray(tensor);
                }
                UnitScores.AddNormalized(total, UnitScores.Reduce(values, tensor.Dims.ToArray(), slice.Axis, slice.UnitSize, slice.Offset, group.Units, f));
            }
            scores.Add(total);
        }
        return scores;
    }
}
