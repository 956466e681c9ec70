namespace ModelBuild.Runtime;

/// <summary>
/// Maps a property to the ONNX input or output tensor with this name (by default the property name).
/// Same meaning as ML.NET's <c>Microsoft.ML.Data.ColumnNameAttribute</c>, which is honoured too.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field, AllowMultiple = false, Inherited = true)]
public sealed class ColumnNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}
