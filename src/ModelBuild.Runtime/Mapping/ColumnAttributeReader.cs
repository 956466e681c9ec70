using System.Collections.ObjectModel;
using System.Reflection;

namespace ModelBuild.Runtime.Mapping;

/// <summary>
/// Reads column names and vector shapes from our attributes and from ML.NET's (matched by full type name, so
/// existing ML.NET input/output classes work without this package referencing Microsoft.ML).
/// ML.NET's attributes are read from their constructor arguments (<see cref="CustomAttributeData"/>), never from
/// their properties: <c>ColumnNameAttribute.Name</c> is internal in ML.NET, so a public-property lookup reads null.
/// </summary>
internal static class ColumnAttributeReader
{
    private const string MlNetColumnName = "Microsoft.ML.Data.ColumnNameAttribute";
    private const string MlNetVectorType = "Microsoft.ML.Data.VectorTypeAttribute";
    private const string MlNetNoColumn = "Microsoft.ML.Data.NoColumnAttribute";

    public static bool IsExcluded(MemberInfo property) =>
        property.IsDefined(typeof(NoColumnAttribute), inherit: true) || MlNetAttribute(property, MlNetNoColumn) is not null;

    /// <summary>The explicit column name, or null when the property has no column-name attribute.</summary>
    public static string? ExplicitColumnName(MemberInfo property)
    {
        if (property.GetCustomAttribute<ColumnNameAttribute>(inherit: true) is { } ours)
        {
            return ours.Name;
        }
        // ML.NET: ColumnNameAttribute(string name) is its only constructor.
        var mlNet = MlNetAttribute(property, MlNetColumnName);
        return mlNet is { ConstructorArguments: [{ Value: string name }] } ? name : null;
    }

    /// <summary>The declared per-row dimensions, or null when the property has no vector-type attribute.</summary>
    public static int[]? VectorDimensions(MemberInfo property)
    {
        if (property.GetCustomAttribute<VectorTypeAttribute>(inherit: true) is { } ours)
        {
            return ours.Dimensions;
        }
        var mlNet = MlNetAttribute(property, MlNetVectorType);
        if (mlNet is null)
        {
            return null;
        }
        // ML.NET: VectorType() (variable size), VectorType(int size), VectorType(params int[] dimensions).
        var dims = mlNet.ConstructorArguments switch
        {
            [{ Value: int size }] => [size],
            [{ Value: ReadOnlyCollection<CustomAttributeTypedArgument> items }] => items.Select(i => (int)i.Value!).ToArray(),
            _ => Array.Empty<int>(),
        };
        return dims.Length > 0 ? dims : null;
    }

    private static CustomAttributeData? MlNetAttribute(MemberInfo property, string fullName) =>
        property.GetCustomAttributesData().FirstOrDefault(a => a.AttributeType.FullName == fullName);
}
