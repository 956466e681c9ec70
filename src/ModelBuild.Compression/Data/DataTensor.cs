using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Data;

/// <summary>
/// A data set held as one dense tensor whose first axis is the sample axis (calibration inputs, evaluation
/// inputs, labels). Values are kept as float32 or int64, the two element types the models here take.
/// </summary>
public sealed class DataTensor
{
    public DataTensor(string path, long[] shape, float[]? floats, long[]? int64s, string sourceDtype)
    {
        Path = path; Shape = shape; Floats = floats; Int64s = int64s; SourceDtype = sourceDtype;
    }

    public string Path { get; }
    public long[] Shape { get; }
    public float[]? Floats { get; }
    public long[]? Int64s { get; }
    /// <summary>The dtype as stored in the file (numpy descr, e.g. <c>&lt;f4</c>).</summary>
    public string SourceDtype { get; }

    public bool IsFloat => Floats is not null;
    public int Count => Shape.Length == 0 ? 1 : checked((int)Shape[0]);
    public int SampleSize => checked((int)Shape.Skip(1).Aggregate(1L, (a, b) => a * b));

    public string ElementTypeName => IsFloat ? "float32" : "int64";

    /// <summary>
    /// Reads any data file or folder <see cref="Data.DataSource"/> knows (MB01xx errors); inputs only. Image folders and
    /// token-id files need <paramref name="options"/> with the model they feed.
    /// </summary>
    public static DataTensor Load(string path, Data.DataReadOptions? options = null) => Data.DataSource.ReadTensor(path, options ?? new Data.DataReadOptions());

    /// <summary>Copies samples [start, start+count) into a new array.</summary>
    public float[] SliceFloats(int start, int count) => Floats!.AsSpan(start * SampleSize, count * SampleSize).ToArray();
    public long[] SliceInt64s(int start, int count) => Int64s!.AsSpan(start * SampleSize, count * SampleSize).ToArray();

    /// <summary>Throws MB0503 when any value is NaN or infinite.</summary>
    public void EnsureFinite()
    {
        if (Floats is null) return;
        for (var i = 0; i < Floats.Length; i++)
        {
            if (!float.IsFinite(Floats[i]))
                throw new ModelBuildException("MB0503",
                    $"The data file '{Path}' holds a non-finite value ({Floats[i]}) at flat index {i} (sample {i / Math.Max(1, SampleSize)}).",
                    "Remove or impute NaN/Inf values before saving the array.", Path);
        }
    }

    public string ShapeText => "[" + string.Join(",", Shape) + "]";
}

