using System.Reflection;

namespace ModelBuild.Runtime.Mapping;

/// <summary>
/// Reads column names and vector shapes from our attributes and from ML.NET's (matched by full type name, so
/// existing ML.NET input/output classes work without this package referencing Microsoft.ML).
/// </summary>
internal static class ColumnAttributeReader
{
    private const string MlNetColumnName = "Microsoft.ML.Data.ColumnNameAttribute";
    private const string MlNetVectorType = "Microsoft.ML.Data.VectorTypeAttribute";
    private const string MlNetNoColumn = "Microsoft.ML.Data.NoColumnAttribute";

    public static bool IsExcluded(MemberInfo property) =>
        property.GetCustomAttributes(inherit: true).Any(a => a is NoColumnAttribute || a.GetType().FullName == MlNetNoColumn);

    /// <summary>The explicit column name, or null when the property has no column-name attribute.</summary>
    public static string? ExplicitColumnName(MemberInfo property)
    {
        foreach (var attribute in property.GetCustomAttributes(inherit: true))
        {
            if (attribute is ColumnNameAttribute ours)
            {
                return ours.Name;
            }
            if (attribute.GetType().FullName == MlNetColumnName)
            {
                return attribute.GetType().GetProperty("Name")?.GetValue(attribute) as string;
            }
        }
        return null;
    }

    /// <summary>The declared per-row dimensions, or null when the property has no vector-type attribute.</summary>
    public static int[]? VectorDimensions(MemberInfo property)
    {
        foreach (var attribute in property.GetCustomAttributes(inherit: true))
        {
            if (attribute is VectorTypeAttribute ours)
            {
                return ours.Dimensions;
            }
            if (attribute.GetType().FullName == MlNetVectorType)
            {
                // ML.NET's VectorTypeAttribute exposes Dimensions (int[]); an empty array means "variable size".
                var dims = attribute.GetType().GetProperty("Dimensions")?.GetValue(attribute) as int[];
                return dims is { Length: > 0 } ? dims : null;
            }
        }
        return null;
    }
}
