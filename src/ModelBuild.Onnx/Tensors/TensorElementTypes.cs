using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Onnx.Tensors;

/// <summary>Facts about ONNX element types: size, the matching .NET type, names.</summary>
public static class TensorElementTypes
{
    /// <summary>Bits per element (4 for int4/uint4/float4e2m1, 0 for string and undefined).</summary>
    public static int BitsPerElement(int dataType) => (DataType)dataType switch
    {
        DataType.Float or DataType.Int32 or DataType.Uint32 => 32,
        DataType.Double or DataType.Int64 or DataType.Uint64 or DataType.Complex64 => 64,
        DataType.Complex128 => 128,
        DataType.Float16 or DataType.Bfloat16 or DataType.Int16 or DataType.Uint16 => 16,
        DataType.Int8 or DataType.Uint8 or DataType.Bool
            or DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz or DataType.Float8E5M2 or DataType.Float8E5M2Fnuz => 8,
        DataType.Int4 or DataType.Uint4 or DataType.Float4E2M1 => 4,
        _ => 0,
    };

    /// <summary>Bytes that <paramref name="count"/> elements take in <c>raw_data</c> (sub-byte types packed two per byte).</summary>
    public static long ByteCount(int dataType, long count)
    {
        int bits = BitsPerElement(dataType);
        return bits == 4 ? (count + 1) / 2 : count * (bits / 8);
    }

    public static bool IsFixedSize(int dataType) => BitsPerElement(dataType) > 0;

    /// <summary>The .NET element type used by <see cref="TensorData"/> for an ONNX type, or null when there is none.</summary>
    public static Type? ClrTypeOf(int dataType) => (DataType)dataType switch
    {
        DataType.Float => typeof(float),
        DataType.Double => typeof(double),
        DataType.Float16 => typeof(Half),
        DataType.Bfloat16 => typeof(BFloat16),
        DataType.Int8 => typeof(sbyte),
        DataType.Int16 => typeof(short),
        DataType.Int32 => typeof(int),
        DataType.Int64 => typeof(long),
        DataType.Uint8 => typeof(byte),
        DataType.Uint16 => typeof(ushort),
        DataType.Uint32 => typeof(uint),
        DataType.Uint64 => typeof(ulong),
        DataType.Bool => typeof(bool),
        DataType.String => typeof(string),
        _ => null,
    };

    /// <summary>The ONNX element type for a .NET element type.</summary>
    public static int DataTypeOf<T>() => DataTypeOf(typeof(T));

    public static int DataTypeOf(Type type)
    {
        if (type == typeof(float)) return (int)DataType.Float;
        if (type == typeof(double)) return (int)DataType.Double;
        if (type == typeof(Half)) return (int)DataType.Float16;
        if (type == typeof(BFloat16)) return (int)DataType.Bfloat16;
        if (type == typeof(sbyte)) return (int)DataType.Int8;
        if (type == typeof(short)) return (int)DataType.Int16;
        if (type == typeof(int)) return (int)DataType.Int32;
        if (type == typeof(long)) return (int)DataType.Int64;
        if (type == typeof(byte)) return (int)DataType.Uint8;
        if (type == typeof(ushort)) return (int)DataType.Uint16;
        if (type == typeof(uint)) return (int)DataType.Uint32;
        if (type == typeof(ulong)) return (int)DataType.Uint64;
        if (type == typeof(bool)) return (int)DataType.Bool;
        if (type == typeof(string)) return (int)DataType.String;
        throw new ArgumentException($"{type} has no ONNX element type.", nameof(type));
    }

    /// <summary>The lower-case ONNX name ("float", "int64", "float16", ...), as printed by onnx and Netron.</summary>
    public static string Name(int dataType) => (DataType)dataType switch
    {
        DataType.Undefined => "undefined",
        DataType.Float => "float",
        DataType.Double => "double",
        DataType.Float16 => "float16",
        DataType.Bfloat16 => "bfloat16",
        DataType.Int8 => "int8",
        DataType.Int16 => "int16",
        DataType.Int32 => "int32",
        DataType.Int64 => "int64",
        DataType.Uint8 => "uint8",
        DataType.Uint16 => "uint16",
        DataType.Uint32 => "uint32",
        DataType.Uint64 => "uint64",
        DataType.Bool => "bool",
        DataType.String => "string",
        DataType.Complex64 => "complex64",
        DataType.Complex128 => "complex128",
        DataType.Float8E4M3Fn => "float8e4m3fn",
        DataType.Float8E4M3Fnuz => "float8e4m3fnuz",
        DataType.Float8E5M2 => "float8e5m2",
        DataType.Float8E5M2Fnuz => "float8e5m2fnuz",
        DataType.Uint4 => "uint4",
        DataType.Int4 => "int4",
        DataType.Float4E2M1 => "float4e2m1",
        _ => $"type{dataType}",
    };

    public static bool IsFloatingPoint(int dataType) => (DataType)dataType is DataType.Float or DataType.Double
        or DataType.Float16 or DataType.Bfloat16 or DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz
        or DataType.Float8E5M2 or DataType.Float8E5M2Fnuz or DataType.Float4E2M1;
}
