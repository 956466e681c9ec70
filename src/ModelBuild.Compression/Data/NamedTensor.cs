
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
        var samples = Count;
        return Gather(count, s => s % samples);
    }

    /// <summary>Samples [start, start+count) as a new tensor (same rank, the sample axis cut to <paramref name="count"/>).</summary>
    public DataTensor Slice(int start, int count)
    {
        var t = Tensor;
        if (SampleAxis != 0) return Gather(count, s => start + s);
        var shape = t.Shape.ToArray();
        if (shape.Length > 0) shape[0] = count;
        return new DataTensor(t.Path, shape, t.IsFloat ? t.SliceFloats(start, count) : null, t.IsFloat ? null : t.SliceInt64s(start, count), t.SourceDtype);
    }

    /// <summary><paramref name="count"/> samples, the s-th being sample <paramref name="sampleAt"/>(s) of this one, along the sample axis.</summary>
    DataTensor Gather(int count, Func<int, int> sampleAt)
    {
        // Elements are [outer][sample][inner]: copy the chosen samples of every outer block.
        var t = Tensor;
        var outer = checked((int)t.Shape.Take(SampleAxis).Aggregate(1L, (a, b) => a * b));
        var inner = checked((int)t.Shape.Skip(SampleAxis + 1).Aggregate(1L, (a, b) => a * b));
        var samples = Count;
        var shape = t.Shape.ToArray();
        shape[SampleAxis] = count;
        return t.IsFloat
            ? new DataTensor(t.Path, shape, Copy(t.Floats!), null, t.SourceDtype)
            : new DataTensor(t.Path, shape, null, Copy(t.Int64s!), t.SourceDtype);

        T[] Copy<T>(T[] source)
        {
            var result = new T[outer * count * inner];
            for (var o = 0; o < outer; o++)
                for (var s = 0; s < count; s++)
                    Array.Copy(source, (o * samples + sampleAt(s)) * inner, result, (o * count + s) * inner, inner);
            return result;
        }
    }
}
