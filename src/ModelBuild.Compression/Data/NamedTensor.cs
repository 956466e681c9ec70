
namespace ModelBuild.Compression.Data;

/// <summary>
/// One input's samples in an <see cref="InputSet"/>: the model input it feeds (null for a lone unnamed array, as a
/// <c>.npy</c> gives, which binds to a single-input model's one input) and the tensor. Samples run along
/// <see cref="SampleAxis"/>: axis 0 for data files; another axis where the model puts the batch elsewhere
/// (GPT-2's past key/values are <c>[2, batch, heads, past, head]</c>).
/// </summary>
public sealed record NamedTensor(string? Name, DataTensor Tensor, int SampleAxis = 0)
{
    public int Count => Tensor.Shape.Length == 0 ? 1 : checked((int)Tensor.Shape[SampleAxis]);

    /// <summary>Exactly <paramref name="count"/> samples: the first ones, repeated from the start when there are fewer.</summary>
    public DataTensor Cycle(int count)
    {
        var t = Tensor;
        var outer = checked((int)t.Shape.Take(SampleAxis).Aggregate(1L, (a, b) => a * b));
        var inner = checked((int)t.Shape.Skip(SampleAxis + 1).Aggregate(1L, (a, b) => a * b));
        var samples = Count;
        var shape = t.Shape.ToArray();
        shape[SampleAxis] = count;
        return t.IsFloat
            ? new DataTensor(t.Path, shape, Repeat(t.Floats!), null, t.SourceDtype)
            : new DataTensor(t.Path, shape, null, Repeat(t.Int64s!), t.SourceDtype);

        T[] Repeat<T>(T[] source)
        {
            var result = new T[outer * count * inner];
            for (var o = 0; o < outer; o++)
                for (var s = 0; s < count; s++)
                    Array.Copy(source, (o * samples + s % samples) * inner, result, (o * count + s) * inner, inner);
            return result;
        }
    }

    /// <summary>Samples [start, start+count) as a new tensor (same rank, the sample axis cut to <paramref name="count"/>).</summary>
    public DataTensor Slice(int start, int count)
    {
        var t = Tensor;
        if (SampleAxis == 0)
        {
            var shape0 = t.Shape.ToArray();
            if (shape0.Length > 0) shape0[0] = count;
            return new DataTensor(t.Path, shape0, t.IsFloat ? t.SliceFloats(start, count) : null, t.IsFloat ? null : t.SliceInt64s(start, count), t.SourceDtype);
        }
        // Elements are [outer][sample][inner]: copy the chosen sample range of every outer block.
        var outer = checked((int)t.Shape.Take(SampleAxis).Aggregate(1L, (a, b) => a * b));
        var inner = checked((int)t.Shape.Skip(SampleAxis + 1).Aggregate(1L, (a, b) => a * b));
        var samples = checked((int)t.Shape[SampleAxis]);
        var shape = t.Shape.ToArray();
        shape[SampleAxis] = count;
        return t.IsFloat
            ? new DataTensor(t.Path, shape, Cut(t.Floats!), null, t.SourceDtype)
            : new DataTensor(t.Path, shape, null, Cut(t.Int64s!), t.SourceDtype);

        T[] Cut<T>(T[] source)
        {
            var result = new T[outer * count * inner];
            for (var o = 0; o < outer; o++)
                Array.Copy(source, (o * samples + start) * inner, result, o * count * inner, count * inner);
            return result;
        }
    }
}
