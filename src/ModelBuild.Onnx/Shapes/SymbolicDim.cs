using System.Globalization;

namespace ModelBuild.Onnx.Shapes;

/// <summary>
/// One dimension during shape inference: a known size, a named symbol (dim_param such as "batch"), or unknown.
/// Also used for the elements of small integer tensors (shape values, which may be negative such as -1), so
/// that Shape -> Gather -> Concat -> Reshape chains keep symbolic sizes, as ONNX's data propagation does.
/// </summary>
/// A symbol may carry a constant offset ("past_len+1"), enough for the KV-cache arithmetic of decoder graphs.
public readonly record struct SymbolicDim
{
    private SymbolicDim(long value, string? symbol, long offset, bool known)
    {
        Value = value;
        Base = symbol;
        Offset = offset;
        IsKnown = known;
    }

    public static readonly SymbolicDim Unknown = new(0, null, 0, false);

    public static SymbolicDim Known(long value) => new(value, null, 0, true);

    public static SymbolicDim Symbol(string name, long offset = 0) => new(0, name, offset, false);

    /// <summary>The size (meaningful when <see cref="IsKnown"/>).</summary>
    public long Value { get; }

    /// <summary>The symbol without offset (when <see cref="IsSymbol"/>).</summary>
    public string? Base { get; }

    /// <summary>The constant added to <see cref="Base"/>.</summary>
    public long Offset { get; }

    /// <summary>The dim_param text: the symbol, with "+k"/"-k" when it has an offset.</summary>
    public string? Param => Base is null ? null
        : Offset == 0 ? Base
        : Base + (Offset > 0 ? "+" : "") + Offset.ToString(CultureInfo.InvariantCulture);

    public bool IsKnown { get; }

    public bool IsSymbol => Base is not null;

    public bool IsUnknown => !IsKnown && !IsSymbol;

    /// <summary>this + k for a known k (symbols keep their name and shift their offset).</summary>
    public SymbolicDim Plus(long k) => IsKnown ? Known(Value + k) : IsSymbol ? Symbol(Base!, Offset + k) : Unknown;

    /// <summary>this - other when it is a constant (both known, or the same symbol), else unknown.</summary>
    public SymbolicDim Minus(SymbolicDim other)
    {
        if (IsKnown && other.IsKnown) return Known(Value - other.Value);
        if (IsSymbol && other.IsSymbol && Base == other.Base) return Known(Offset - other.Offset);
        if (other.IsKnown) return Plus(-other.Value);
        return Unknown;
    }

    public override string ToString() => IsKnown ? Value.ToString(CultureInfo.InvariantCulture) : Param ?? "?";
}
