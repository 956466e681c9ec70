using System.Runtime.InteropServices;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Data;

/// <summary>
/// An n-dimensional array read from (or written to) a NumPy .npy file: C-order, little-endian elements in a
/// typed .NET array plus the shape. Read with <see cref="Read(string)"/>, or <see cref="NpzArchive"/> for
/// .npz; convert with <see cref="ToSingleArray"/>/<see cref="ToInt64Array"/>; write with <see cref="Save"/>.
/// </summary>
public sealed class NpyArray
{
    private NpyArray(NpyDType dtype, long[] shape, Array data)
    {
        DType = dtype;
        Shape = shape;
        Data = data;
    }

    public NpyDType DType { get; }

    /// <summary>Dimensions, outermost first (empty for a 0-d array).</summary>
    public long[] Shape { get; }

    /// <summary>The elements in C order: float[], double[], Half[], sbyte[], short[], int[], long[], byte[], ushort[], uint[], ulong[] or bool[].</summary>
    public Array Data { get; }

    public int Rank => Shape.Length;

    public long Length => Data.LongLength;

    /// <summary>Size of dimension 0 (the number of samples, by convention), 1 for a 0-d array.</summary>
    public long Rows => Shape.Length == 0 ? 1 : Shape[0];

    /// <summary>Elements per row (product of dims after the first).</summary>
    public long RowLength => Shape.Length <= 1 ? 1 : Shape.Skip(1).Aggregate(1L, (a, d) => a * d);

    /// <summary>Wraps an existing array (not copied).</summary>
    public static NpyArray Create<T>(T[] data, params long[] shape) where T : unmanaged
    {
        long count = shape.Aggregate(1L, (a, d) => checked(a * d));
        if (count != data.LongLength)
        {
            throw new ArgumentException($"Shape [{string.Join(",", shape)}] needs {count} elements but {data.LongLength} were given.", nameof(data));
        }
        return new NpyArray(NpyDTypes.FromClrType(typeof(T)), shape, data);
    }

    /// <summary>The elements as <typeparamref name="T"/>, which must be the array's own element type (no copy).</summary>
    public T[] As<T>() where T : unmanaged => Data as T[]
        ?? throw new InvalidOperationException($"The array holds {DType} ({Data.GetType().GetElementType()!.Name}), not {typeof(T).Name}; use ToSingleArray/ToInt64Array to convert.");

    /// <summary>One row (index along dimension 0) as a span.</summary>
    public ReadOnlySpan<T> Row<T>(long row) where T : unmanaged => As<T>().AsSpan(checked((int)(row * RowLength)), checked((int)RowLength));

    /// <summary>All elements converted to float32 (bool as 0/1).</summary>
    public float[] ToSingleArray() => Data switch
    {
        float[] a => (float[])a.Clone(),
        double[] a => Array.ConvertAll(a, v => (float)v),
        Half[] a => Array.ConvertAll(a, v => (float)v),
        bool[] a => Array.ConvertAll(a, v => v ? 1f : 0f),
        _ => Array.ConvertAll(IntegersAsInt64(), v => (float)v),
    };

    /// <summary>All elements converted to int64 (labels, token ids). Floating-point values must be whole numbers.</summary>
    public long[] ToInt64Array() => Data switch
    {
        float[] a => Array.ConvertAll(a, v => WholeNumber(v)),
        double[] a => Array.ConvertAll(a, WholeNumber),
        Half[] a => Array.ConvertAll(a, v => WholeNumber((double)v)),
        bool[] a => Array.ConvertAll(a, v => v ? 1L : 0L),
        _ => IntegersAsInt64(),
    };

    /// <summary>
    /// The first uint64 value that int64 cannot hold (its index and value), or null: <see cref="ToInt64Array"/> would
    /// overflow on it, so readers report it with their own code first. By dtype, not <c>is ulong[]</c>, which an int64
    /// array also passes (see <see cref="IntegersAsInt64"/>): its negatives looked out of range.
    /// </summary>
    public (int Index, ulong Value)? FirstBeyondInt64()
    {
        if (DType != NpyDType.UInt64) return null;
        var values = (ulong[])Data;
        var at = Array.FindIndex(values, v => v > long.MaxValue);
        return at < 0 ? null : (at, values[at]);
    }

    /// <summary>
    /// An integer array as int64, by its exact element type: the CLR lets a same-size signed and unsigned array pass each
    /// other's type test (<c>new sbyte[1] is byte[]</c> is true), so a type-pattern switch read int8 -1 as 255 or
    /// int64 -1 as ulong.MaxValue, whichever arm came first. uint64 values above long.MaxValue overflow (checked).
    /// </summary>
    private long[] IntegersAsInt64()
    {
        var type = Data.GetType();
        if (type == typeof(byte[])) return Array.ConvertAll((byte[])Data, v => (long)v);
        if (type == typeof(sbyte[])) return Array.ConvertAll((sbyte[])Data, v => (long)v);
        if (type == typeof(ushort[])) return Array.ConvertAll((ushort[])Data, v => (long)v);
        if (type == typeof(short[])) return Array.ConvertAll((short[])Data, v => (long)v);
        if (type == typeof(uint[])) return Array.ConvertAll((uint[])Data, v => (long)v);
        if (type == typeof(int[])) return Array.ConvertAll((int[])Data, v => (long)v);
        if (type == typeof(ulong[])) return Array.ConvertAll((ulong[])Data, v => checked((long)v));
        if (type == typeof(long[])) return (long[])((long[])Data).Clone();
        throw new InvalidOperationException($"Unexpected element array {type}.");
    }

    /// <summary>The elements as little-endian bytes (the .npy data section).</summary>
    public byte[] ToBytes() => Data switch
    {
        float[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        double[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        Half[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        sbyte[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        short[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        int[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        long[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        byte[] a => (byte[])a.Clone(),
        ushort[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        uint[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        ulong[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        bool[] a => MemoryMarshal.AsBytes(a.AsSpan()).ToArray(),
        _ => throw new InvalidOperationException($"Unexpected element array {Data.GetType()}."),
    };

    /// <summary>Reads a .npy file (MB0101-MB0108 on failure).</summary>
    public static NpyArray Read(string path)
    {
        if (!File.Exists(path))
        {
            throw NpyErrors.Missing(path);
        }
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw NpyErrors.Unreadable(path, e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Reads a .npy from a stream; <paramref name="displayName"/> names it in errors.</summary>
    public static NpyArray Read(Stream stream, string displayName)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), displayName);
    }

    /// <summary>Parses .npy bytes; <paramref name="displayName"/> names the file in errors.</summary>
    public static NpyArray Parse(ReadOnlySpan<byte> bytes, string displayName)
    {
        if (bytes.Length == 0)
        {
            throw NpyErrors.Empty(displayName);
        }
        var header = NpyHeader.Parse(bytes, displayName);
        long count = header.ElementCount;
        long needed = count * NpyDTypes.ItemSize(header.DType);
        long available = bytes.Length - header.DataOffset;
        if (available < needed)
        {
            throw NpyErrors.Short(displayName, needed, available);
        }
        var data = bytes.Slice(header.DataOffset, checked((int)needed));
        Array array = header.DType switch
        {
            NpyDType.Float32 => data.Cast<float>(),
            NpyDType.Float64 => data.Cast<double>(),
            NpyDType.Float16 => data.Cast<Half>(),
            NpyDType.Int8 => data.Cast<sbyte>(),
            NpyDType.Int16 => data.Cast<short>(),
            NpyDType.Int32 => data.Cast<int>(),
            NpyDType.Int64 => data.Cast<long>(),
            NpyDType.UInt8 => data.ToArray(),
            NpyDType.UInt16 => data.Cast<ushort>(),
            NpyDType.UInt32 => data.Cast<uint>(),
            NpyDType.UInt64 => data.Cast<ulong>(),
            NpyDType.Bool => ReadBools(data),
            _ => throw new InvalidOperationException(),
        };
        return new NpyArray(header.DType, header.Shape, array);
    }

    /// <summary>Writes the array as .npy (format 1.0), atomically (temp file + rename).</summary>
    public void Save(string path) => AtomicFile.Write(path, WriteTo);

    /// <summary>Writes the .npy bytes to a stream.</summary>
    public void WriteTo(Stream stream)
    {
        stream.Write(NpyHeader.Format(DType, Shape));
        stream.Write(ToBytes());
    }

    private static bool[] ReadBools(ReadOnlySpan<byte> data)
    {
        // numpy bools are one byte, 0 or 1; normalise any other non-zero byte so .NET sees a canonical true.
        var result = new bool[data.Length];
        for (int i = 0; i < data.Length; i++)
        {
            result[i] = data[i] != 0;
        }
        return result;
    }

    private static long WholeNumber(double v) => v == Math.Floor(v) && !double.IsInfinity(v)
        ? (long)v
        : throw new InvalidOperationException($"Value {v} is not a whole number and cannot be used as an integer (label or id).");

    public override string ToString() => $"{DType}[{string.Join(",", Shape)}]";
}

internal static class SpanCastExtensions
{
    public static T[] Cast<T>(this ReadOnlySpan<byte> bytes) where T : unmanaged
    {
        var result = new T[bytes.Length / System.Runtime.CompilerServices.Unsafe.SizeOf<T>()];
        bytes.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        return result;
    }
}
