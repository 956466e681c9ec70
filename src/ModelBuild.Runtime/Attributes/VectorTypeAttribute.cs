namespace ModelBuild.Runtime;

/// <summary>
/// Declares the per-row shape of an array property (the tensor shape without the batch axis), e.g.
/// <c>[VectorType(13)]</c> for an <c>[N,13]</c> tensor or <c>[VectorType(3, 224, 224)]</c> for an image.
/// Same meaning as ML.NET's <c>Microsoft.ML.Data.VectorTypeAttribute</c>, which is honoured too.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = true)]
public sealed class VectorTypeAttribute(params int[] dimensions) : Attribute
{
    public int[] Dimensions { get; } = dimensions;
}
