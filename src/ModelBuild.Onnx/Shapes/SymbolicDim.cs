using System.Globalization;

namespace ModelBuild.Onnx.Shapes;

/// <summary>
/// One dimension during shape inference: a known size, a named symbol (dim_param such as "batch"), or unknown.
/// Also used for the elements of small integer tensors (shape values, which may be negative such as -1), so
/// that Shape -> Gather -> Concat -> Reshape chains keep symbolic sizes, as ONNX's data propagation does.
/// </summary>
public readonly record struct SymbolicDim
{
    private SymbolicDim(long value, string? param, bool known)
    {
        Value = value;
        Param = param;
        IsKnown = known;
    }

    public static readonly SymbolicDim Unknown = new(0, null, false);

    public static SymbolicDim Known(long value) => new(value, null, true);

    public static SymbolicDim Symbol(string name) => new(0, name, false);

    /// <summary>The size (meaningful when <see cref="IsKnown"/>).</summary>
    public long Value { get; }

    /// <summary>The symbol name (when <see cref="IsSymbol"/>).</summary>
    public string? Param { get; }

    public bool IsKnown { get; }

    public bool IsSymbol => Param is not null;

    public bool IsUnknown => !IsKnown && !IsSymbol;

    public override string ToString() => IsKnown ? Value.ToString(CultureInfo.InvariantCulture) : Param ?? "?";
}
