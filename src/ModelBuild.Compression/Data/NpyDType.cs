namespace ModelBuild.Compression.Data;

/// <summary>The element types the .npy reader supports, with their numpy descr codes.</summary>
public enum NpyDType
{
    Float32,
    Float64,
    Float16,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Bool,
}

public static class NpyDTypes
{
    public static int ItemSize(NpyDType type) => type switch
    {
        NpyDType.Float64 or NpyDType.Int64 or NpyDType.UInt64 => 8,
        NpyDType.Float32 or NpyDType.Int32 or NpyDType.UInt32 => 4,
        NpyDType.Float16 or NpyDType.Int16 or NpyDType.UInt16 => 2,
        _ => 1,
    };

    public static Type ClrType(NpyDType type) => type switch
    {
        NpyDType.Float32 => typeof(float),
        NpyDType.Float64 => typeof(double),
        NpyDType.Float16 => typeof(Half),
        NpyDType.Int8 => typeof(sbyte),
        NpyDType.Int16 => typeof(short),
        NpyDType.Int32 => typeof(int),
        NpyDType.Int64 => typeof(long),
        NpyDType.UInt8 => typeof(byte),
        NpyDType.UInt16 => typeof(ushort),
        NpyDType.UInt32 => typeof(uint),
        NpyDType.UInt64 => typeof(ulong),
        NpyDType.Bool => typeof(bool),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static NpyDType FromClrType(Type type)
    {
        foreach (NpyDType t in Enum.GetValues<NpyDType>())
        {
            if (ClrType(t) == type)
            {
                return t;
            }
        }
        throw new ArgumentException($"{type} cannot be stored in a .npy file by ModelBuild.", nameof(type));
    }

    /// <summary>The little-endian numpy descr, e.g. "&lt;f4", "|b1".</summary>
    public static string Descr(NpyDType type) => type switch
    {
        NpyDType.Float32 => "<f4",
        NpyDType.Float64 => "<f8",
        NpyDType.Float16 => "<f2",
        NpyDType.Int8 => "|i1",
        NpyDType.Int16 => "<i2",
        NpyDType.Int32 => "<i4",
        NpyDType.Int64 => "<i8",
        NpyDType.UInt8 => "|u1",
        NpyDType.UInt16 => "<u2",
        NpyDType.UInt32 => "<u4",
        NpyDType.UInt64 => "<u8",
        NpyDType.Bool => "|b1",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>Parses a descr; false for big-endian (<paramref name="bigEndian"/> set) or unsupported kinds.</summary>
    public static bool TryParse(string descr, out NpyDType type, out bool bigEndian)
    {
        type = default;
        bigEndian = false;
        if (descr.Length < 3)
        {
            return false;
        }
        char order = descr[0];
        string code = descr[1..];
        if (order is not ('<' or '>' or '|' or '='))
        {
            return false;
        }
        NpyDType? parsed = code switch
        {
            "f4" => NpyDType.Float32,
            "f8" => NpyDType.Float64,
            "f2" => NpyDType.Float16,
            "i1" => NpyDType.Int8,
            "i2" => NpyDType.Int16,
            "i4" => NpyDType.Int32,
            "i8" => NpyDType.Int64,
            "u1" => NpyDType.UInt8,
            "u2" => NpyDType.UInt16,
            "u4" => NpyDType.UInt32,
            "u8" => NpyDType.UInt64,
            "b1" => NpyDType.Bool,
            _ => null,
        };
        if (parsed is null)
        {
            return false;
        }
        type = parsed.Value;
        // '=' is native order; every platform .NET ModelBuild runs on is little-endian.
        if (order == '>' && ItemSize(type) > 1)
        {
            bigEndian = true;
            return false;
        }
        return true;
    }
}
