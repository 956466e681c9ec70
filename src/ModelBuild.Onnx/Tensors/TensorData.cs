using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Collections;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.ExternalData;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Onnx.Tensors;

/// <summary>
/// Typed access to TensorProto data. Reads accept every storage form ONNX allows: <c>raw_data</c>
/// (little-endian), the typed fields (<c>float_data</c>, <c>int32_data</c> for the 8/16-bit types, bool, fp16 and
/// bf16, <c>int64_data</c>, <c>double_data</c>, <c>uint64_data</c>) and external data. Writes always use
/// <c>raw_data</c>, the form every ONNX tool reads and the most compact.
/// </summary>
public static class TensorData
{
    /// <summary>Number of elements (product of dims; 1 for a scalar).</summary>
    public static long ElementCount(TensorProto tensor)
    {
        long count = 1;
        foreach (long d in tensor.Dims)
        {
            if (d < 0)
            {
                throw OnnxErrors.TensorMismatch(null, tensor.Name, $"dimension {d} is negative");
            }
            count = checked(count * d);
        }
        return count;
    }

    /// <summary>Dims as an array.</summary>
    public static long[] Shape(TensorProto tensor) => tensor.Dims.ToArray();

    /// <summary>Bytes of data the tensor holds once loaded (0 for strings).</summary>
    public static long ByteCount(TensorProto tensor) => TensorElementTypes.ByteCount(tensor.DataType, ElementCount(tensor));

    /// <summary>
    /// Reads the elements as <typeparamref name="T"/>, which must be the .NET type of the tensor's element
    /// type (float, double, Half, BFloat16, sbyte, short, int, long, byte, ushort, uint, ulong, bool).
    /// </summary>
    public static T[] ToArray<T>(TensorProto tensor, ExternalDataReader? external = null) where T : unmanaged
    {
        int expectedType = TensorElementTypes.DataTypeOf<T>();
        if (tensor.DataType != expectedType)
        {
            throw OnnxErrors.TensorType(tensor.Name,
                $"it holds {TensorElementTypes.Name(tensor.DataType)}, not {TensorElementTypes.Name(expectedType)} ({typeof(T).Name})");
        }
        long count = ElementCount(tensor);
        var result = new T[count];
        if (count == 0)
        {
            return result;
        }
        if (!ExternalDataInfo.IsExternal(tensor) && tensor.RawData.IsEmpty)
        {
            // Typed fields: convert straight into the result without an intermediate byte buffer.
            if (TryCopyTypedFields(tensor, result))
            {
                return result;
            }
        }
        ReadOnlySpan<byte> bytes = RawBytesSpan(tensor, external, out byte[]? _);
        CheckLength(tensor, bytes.Length, count * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        bytes.CopyTo(MemoryMarshal.AsBytes(result.AsSpan()));
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ModelBuild reads ONNX raw_data on little-endian machines only.");
        }
        return result;
    }

    /// <summary>
    /// Zero-copy view of the elements when they sit in <c>raw_data</c> (the usual case); false for typed-field or
    /// external storage (use <see cref="ToArray{T}"/> then). The span aliases the protobuf's buffer: do not keep it
    /// across edits of the tensor.
    /// </summary>
    public static bool TryGetSpan<T>(TensorProto tensor, out ReadOnlySpan<T> values) where T : unmanaged
    {
        values = default;
        if (tensor.DataType != TensorElementTypes.DataTypeOf<T>() || ExternalDataInfo.IsExternal(tensor) || !BitConverter.IsLittleEndian)
        {
            return false;
        }
        long count = ElementCount(tensor);
        if (tensor.RawData.IsEmpty && count != 0)
        {
            return false;
        }
        CheckLength(tensor, tensor.RawData.Length, count * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        values = MemoryMarshal.Cast<byte, T>(tensor.RawData.Span);
        return true;
    }

    /// <summary>Reads a string tensor (UTF-8 decoded).</summary>
    public static string[] ToStringArray(TensorProto tensor)
    {
        if (tensor.DataType != (int)DataType.String)
        {
            throw OnnxErrors.TensorType(tensor.Name, $"it holds {TensorElementTypes.Name(tensor.DataType)}, not string");
        }
        CheckLength(tensor, tensor.StringData.Count, ElementCount(tensor), "strings");
        return tensor.StringData.Select(s => s.ToStringUtf8()).ToArray();
    }

    /// <summary>Reads a string tensor as raw byte strings (ONNX strings need not be UTF-8).</summary>
    public static byte[][] ToByteStrings(TensorProto tensor)
    {
        if (tensor.DataType != (int)DataType.String)
        {
            throw OnnxErrors.TensorType(tensor.Name, $"it holds {TensorElementTypes.Name(tensor.DataType)}, not string");
        }
        return tensor.StringData.Select(s => s.ToByteArray()).ToArray();
    }

    /// <summary>Reads any real numeric tensor converted to float32 (bool as 0/1).</summary>
    public static float[] ToSingleArray(TensorProto tensor, ExternalDataReader? external = null)
    {
        switch ((DataType)tensor.DataType)
        {
            case DataType.Float: return ToArray<float>(tensor, external);
            case DataType.Double: return Array.ConvertAll(ToArray<double>(tensor, external), v => (float)v);
            case DataType.Float16: return Array.ConvertAll(ToArray<Half>(tensor, external), v => (float)v);
            case DataType.Bfloat16: return Array.ConvertAll(ToArray<BFloat16>(tensor, external), v => v.ToSingle());
            default: return Array.ConvertAll(ToDoubleArray(tensor, external), v => (float)v);
        }
    }

    /// <summary>Reads any real numeric tensor converted to float64 (bool as 0/1).</summary>
    public static double[] ToDoubleArray(TensorProto tensor, ExternalDataReader? external = null) => (DataType)tensor.DataType switch
    {
        DataType.Float => Array.ConvertAll(ToArray<float>(tensor, external), v => (double)v),
        DataType.Double => ToArray<double>(tensor, external),
        DataType.Float16 => Array.ConvertAll(ToArray<Half>(tensor, external), v => (double)v),
        DataType.Bfloat16 => Array.ConvertAll(ToArray<BFloat16>(tensor, external), v => (double)v.ToSingle()),
        DataType.Int8 => Array.ConvertAll(ToArray<sbyte>(tensor, external), v => (double)v),
        DataType.Int16 => Array.ConvertAll(ToArray<short>(tensor, external), v => (double)v),
        DataType.Int32 => Array.ConvertAll(ToArray<int>(tensor, external), v => (double)v),
        DataType.Int64 => Array.ConvertAll(ToArray<long>(tensor, external), v => (double)v),
        DataType.Uint8 => Array.ConvertAll(ToArray<byte>(tensor, external), v => (double)v),
        DataType.Uint16 => Array.ConvertAll(ToArray<ushort>(tensor, external), v => (double)v),
        DataType.Uint32 => Array.ConvertAll(ToArray<uint>(tensor, external), v => (double)v),
        DataType.Uint64 => Array.ConvertAll(ToArray<ulong>(tensor, external), v => (double)v),
        DataType.Bool => Array.ConvertAll(ToArray<bool>(tensor, external), v => v ? 1.0 : 0.0),
        _ => throw OnnxErrors.TensorType(tensor.Name, $"{TensorElementTypes.Name(tensor.DataType)} is not a real numeric type"),
    };

    /// <summary>Reads any integer (or bool) tensor as int64, e.g. shapes, axes and indices.</summary>
    public static long[] ToInt64Array(TensorProto tensor, ExternalDataReader? external = null) => (DataType)tensor.DataType switch
    {
        DataType.Int64 => ToArray<long>(tensor, external),
        DataType.Int32 => Array.ConvertAll(ToArray<int>(tensor, external), v => (long)v),
        DataType.Int16 => Array.ConvertAll(ToArray<short>(tensor, external), v => (long)v),
        DataType.Int8 => Array.ConvertAll(ToArray<sbyte>(tensor, external), v => (long)v),
        DataType.Uint8 => Array.ConvertAll(ToArray<byte>(tensor, external), v => (long)v),
        DataType.Uint16 => Array.ConvertAll(ToArray<ushort>(tensor, external), v => (long)v),
        DataType.Uint32 => Array.ConvertAll(ToArray<uint>(tensor, external), v => (long)v),
        DataType.Uint64 => Array.ConvertAll(ToArray<ulong>(tensor, external), v => unchecked((long)v)),
        DataType.Bool => Array.ConvertAll(ToArray<bool>(tensor, external), v => v ? 1L : 0L),
        _ => throw OnnxErrors.TensorType(tensor.Name, $"{TensorElementTypes.Name(tensor.DataType)} is not an integer type"),
    };

    /// <summary>
    /// The elements as little-endian bytes, exactly as <c>raw_data</c> would hold them (sub-byte types packed),
    /// whatever the storage form. Strings have no raw form.
    /// </summary>
    public static byte[] ToRawBytes(TensorProto tensor, ExternalDataReader? external = null)
    {
        var span = RawBytesSpan(tensor, external, out byte[]? owned);
        CheckLength(tensor, span.Length, ByteCount(tensor));
        return owned ?? span.ToArray();
    }

    /// <summary>Creates a tensor from values (row-major) with the given dims; data goes to <c>raw_data</c>.</summary>
    public static TensorProto Create<T>(string name, ReadOnlySpan<T> values, ReadOnlySpan<long> dims) where T : unmanaged
    {
        var tensor = new TensorProto { Name = name, DataType = TensorElementTypes.DataTypeOf<T>() };
        foreach (long d in dims)
        {
            tensor.Dims.Add(d);
        }
        SetData(tensor, values);
        return tensor;
    }

    /// <summary>Creates a tensor from values with the given dims.</summary>
    public static TensorProto Create<T>(string name, T[] values, params long[] dims) where T : unmanaged =>
        Create(name, (ReadOnlySpan<T>)values, dims);

    /// <summary>Creates a rank-0 tensor.</summary>
    public static TensorProto CreateScalar<T>(string name, T value) where T : unmanaged =>
        Create(name, new ReadOnlySpan<T>(in value), ReadOnlySpan<long>.Empty);

    /// <summary>Creates a string tensor.</summary>
    public static TensorProto CreateStrings(string name, IReadOnlyList<string> values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.String };
        tensor.Dims.AddRange(dims);
        CheckLength(tensor, values.Count, ElementCount(tensor), "strings");
        foreach (var s in values)
        {
            tensor.StringData.Add(ByteString.CopyFromUtf8(s));
        }
        return tensor;
    }

    /// <summary>Creates a tensor of any fixed-size element type from little-endian bytes.</summary>
    public static TensorProto CreateFromRawBytes(string name, int dataType, ReadOnlySpan<byte> bytes, ReadOnlySpan<long> dims)
    {
        var tensor = new TensorProto { Name = name, DataType = dataType };
        foreach (long d in dims)
        {
            tensor.Dims.Add(d);
        }
        CheckLength(tensor, bytes.Length, ByteCount(tensor));
        tensor.RawData = ByteString.CopyFrom(bytes);
        return tensor;
    }

    /// <summary>Replaces the tensor's data (keeps name and dims, which must match the count); sets data_type from T.</summary>
    public static void SetData<T>(TensorProto tensor, ReadOnlySpan<T> values) where T : unmanaged
    {
        tensor.DataType = TensorElementTypes.DataTypeOf<T>();
        CheckLength(tensor, values.Length, ElementCount(tensor), "elements");
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ModelBuild writes ONNX raw_data on little-endian machines only.");
        }
        tensor.ClearInlineData();
        tensor.ExternalData.Clear();
        tensor.DataLocation = TensorProto.Types.DataLocation.Default;
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
    }

    /// <summary>
    /// Moves typed-field or external data into <c>raw_data</c> (a no-op for strings and tensors already in raw_data).
    /// </summary>
    public static void ConvertToRawData(TensorProto tensor, ExternalDataReader? external = null)
    {
        if (tensor.DataType == (int)DataType.String || (!ExternalDataInfo.IsExternal(tensor) && !tensor.RawData.IsEmpty))
        {
            return;
        }
        byte[] bytes = ToRawBytes(tensor, external);
        tensor.ClearInlineData();
        tensor.ExternalData.Clear();
        tensor.DataLocation = TensorProto.Types.DataLocation.Default;
        tensor.RawData = ByteString.CopyFrom(bytes);
    }

    private static ReadOnlySpan<byte> RawBytesSpan(TensorProto tensor, ExternalDataReader? external, out byte[]? owned)
    {
        owned = null;
        if (tensor.DataType == (int)DataType.String)
        {
            throw OnnxErrors.TensorType(tensor.Name, "string tensors have no raw byte form; use ToStringArray");
        }
        if (!TensorElementTypes.IsFixedSize(tensor.DataType))
        {
            throw OnnxErrors.TensorType(tensor.Name, $"element type {TensorElementTypes.Name(tensor.DataType)} is not supported");
        }
        if (ExternalDataInfo.IsExternal(tensor))
        {
            if (external is null)
            {
                throw OnnxErrors.ExternalMalformed("<unknown model>", tensor.Name,
                    "its data is external but no model folder was given to read it from (load the model with OnnxModel.Load)");
            }
            owned = external.Read(tensor, ByteCount(tensor));
            return owned;
        }
        if (!tensor.RawData.IsEmpty)
        {
            return tensor.RawData.Span;
        }
        owned = TypedFieldsToBytes(tensor);
        return owned;
    }

    private static byte[] TypedFieldsToBytes(TensorProto tensor)
    {
        switch ((DataType)tensor.DataType)
        {
            case DataType.Float:
            case DataType.Complex64:
                return MemoryMarshal.AsBytes(tensor.FloatData.ToArray().AsSpan()).ToArray();
            case DataType.Double:
            case DataType.Complex128:
                return MemoryMarshal.AsBytes(tensor.DoubleData.ToArray().AsSpan()).ToArray();
            case DataType.Int32:
                return MemoryMarshal.AsBytes(tensor.Int32Data.ToArray().AsSpan()).ToArray();
            case DataType.Int64:
                return MemoryMarshal.AsBytes(tensor.Int64Data.ToArray().AsSpan()).ToArray();
            case DataType.Uint64:
                return MemoryMarshal.AsBytes(tensor.Uint64Data.ToArray().AsSpan()).ToArray();
            case DataType.Uint32:
            {
                var values = tensor.Uint64Data.Select(v => (uint)v).ToArray();
                return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
            }
            case DataType.Int16:
            case DataType.Uint16:
            case DataType.Float16:
            case DataType.Bfloat16:
            {
                // 16-bit values (fp16/bf16 as their bit patterns) sit in the low half of each int32.
                var bytes = new byte[tensor.Int32Data.Count * 2];
                for (int i = 0; i < tensor.Int32Data.Count; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), unchecked((ushort)tensor.Int32Data[i]));
                }
                return bytes;
            }
            default:
            {
                // int8/uint8/bool/float8 one per int32; int4/uint4/float4 as packed bytes, one byte per int32.
                var bytes = new byte[tensor.Int32Data.Count];
                for (int i = 0; i < bytes.Length; i++)
                {
                    bytes[i] = unchecked((byte)tensor.Int32Data[i]);
                }
                return bytes;
            }
        }
    }

    private static bool TryCopyTypedFields<T>(TensorProto tensor, T[] result) where T : unmanaged => result switch
    {
        float[] f when tensor.FloatData.Count > 0 => CopyField(tensor, tensor.FloatData, f, "float_data values"),
        double[] d when tensor.DoubleData.Count > 0 => CopyField(tensor, tensor.DoubleData, d, "double_data values"),
        int[] i when tensor.Int32Data.Count > 0 => CopyField(tensor, tensor.Int32Data, i, "int32_data values"),
        long[] l when tensor.Int64Data.Count > 0 => CopyField(tensor, tensor.Int64Data, l, "int64_data values"),
        ulong[] u when tensor.Uint64Data.Count > 0 => CopyField(tensor, tensor.Uint64Data, u, "uint64_data values"),
        _ => false,
    };

    /// <summary>Copies a typed repeated field into <paramref name="result"/> after checking it holds one value per element.</summary>
    private static bool CopyField<TValue>(TensorProto tensor, RepeatedField<TValue> field, TValue[] result, string unit)
    {
        CheckLength(tensor, field.Count, result.Length, unit);
        field.CopyTo(result, 0);
        return true;
    }

    private static void CheckLength(TensorProto tensor, long actual, long expected, string unit = "bytes")
    {
        if (actual != expected)
        {
            throw OnnxErrors.TensorMismatch(null, tensor.Name,
                $"its {TensorElementTypes.Name(tensor.DataType)} dims [{string.Join(",", tensor.Dims)}] need {expected} {unit} but it holds {actual}");
        }
    }

    /// <summary>Decodes a UTF-8 protobuf string field (helper for attribute strings).</summary>
    internal static string Utf8(ByteString s) => Encoding.UTF8.GetString(s.Span);
}
