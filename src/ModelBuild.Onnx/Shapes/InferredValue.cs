namespace ModelBuild.Onnx.Shapes;

/// <summary>
/// What shape inference knows about one value: element type (0 = unknown), shape (null = unknown rank) and,
/// for small integer tensors of rank 0 or 1, their elements (possibly symbolic).
/// </summary>
public sealed record InferredValue(int ElementType, SymbolicDim[]? Shape, SymbolicDim[]? Values = null)
{
    public int? Rank => Shape?.Length;

    public bool IsFullyKnown => Shape is not null && Shape.All(d => d.IsKnown);

    /// <summary>The values as plain integers when every one is known.</summary>
    public long[]? KnownValues => Values is not null && Values.All(v => v.IsKnown) ? Values.Select(v => v.Value).ToArray() : null;
}
