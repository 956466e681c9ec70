using System.Globalization;

namespace ModelBuild.Onnx.Tensors;

/// <summary>
/// bfloat16: the upper 16 bits of an IEEE float32. .NET has no such type (System.Half is IEEE fp16), so this
/// small struct carries the bits and converts with round-to-nearest-even, as PyTorch and ONNX Runtime do.
/// </summary>
public readonly struct BFloat16 : IEquatable<BFloat16>, IComparable<BFloat16>
{
    public BFloat16(ushort bits) => Bits = bits;

    /// <summary>The raw 16 bits (sign, 8 exponent bits, 7 mantissa bits).</summary>
    public ushort Bits { get; }

    public static BFloat16 FromBits(ushort bits) => new(bits);

    public static BFloat16 FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            // Keep the sign, force a quiet NaN so that truncation cannot turn it into infinity.
            return new BFloat16((ushort)((bits >> 16) | 0x0040));
        }
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return new BFloat16((ushort)((bits + roundingBias) >> 16));
    }

    public float ToSingle() => BitConverter.UInt32BitsToSingle((uint)Bits << 16);

    public static explicit operator BFloat16(float value) => FromSingle(value);
    public static explicit operator float(BFloat16 value) => value.ToSingle();

    public bool Equals(BFloat16 other) => Bits == other.Bits;
    public override bool Equals(object? obj) => obj is BFloat16 other && Equals(other);
    public override int GetHashCode() => Bits;
    public int CompareTo(BFloat16 other) => ToSingle().CompareTo(other.ToSingle());
    public static bool operator ==(BFloat16 a, BFloat16 b) => a.Equals(b);
    public static bool operator !=(BFloat16 a, BFloat16 b) => !a.Equals(b);
    public override string ToString() => ToSingle().ToString(CultureInfo.InvariantCulture);
}
