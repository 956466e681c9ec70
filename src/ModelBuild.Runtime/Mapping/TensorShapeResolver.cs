using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelBuild.Runtime.Mapping;

/// <summary>
/// Resolves the shape one row of a property occupies in a model tensor. A leading dynamic dimension is the batch
/// axis (1 for a single prediction, N for a batch); every other dimension must be fixed by the model or by the
/// property's VectorType, and both must agree.
/// </summary>
internal static class TensorShapeResolver
{
    public static TensorElementType ElementTypeOf(Type clrElementType) => clrElementType switch
    {
        _ when clrElementType == typeof(float) => TensorElementType.Float,
        _ when clrElementType == typeof(double) => TensorElementType.Double,
        _ when clrElementType == typeof(int) => TensorElementType.Int32,
        _ when clrElementType == typeof(long) => TensorElementType.Int64,
        _ when clrElementType == typeof(bool) => TensorElementType.Bool,
        _ when clrElementType == typeof(string) => TensorElementType.String,
        _ => TensorElementType.DataTypeMax,
    };

    public static string Describe(int[] dims) => "[" + string.Join(",", dims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    /// <summary>
    /// Returns the per-row dimensions, whether the tensor has a batch axis, or null when a dimension stays unknown
    /// (only allowed for outputs, which ONNX Runtime then allocates).
    /// </summary>
    public static (int[]? RowDims, bool HasBatchAxis) Resolve(
        string modelName, string typeName, string propertyName, string tensorName, NodeMetadata metadata,
        bool isArray, int[]? vectorDims, bool allowUnknown)
    {
        var modelDims = metadata.Dimensions;
        bool hasBatchAxis = modelDims.Length >= 1 && modelDims[0] < 0;
        var rowDims = hasBatchAxis ? modelDims[1..] : (int[])modelDims.Clone();
        string where = $"Property '{typeName}.{propertyName}' maps to tensor '{tensorName}' of model '{modelName}'";

        if (!isArray)
        {
            if (vectorDims is not null)
            {
                throw new ModelRuntimeException(RuntimeErrorCodes.ShapeMismatch,
                    $"{where}: the property is a scalar but declares VectorType{Describe(vectorDims)}.",
                    "Make the property an array or remove the VectorType attribute.", modelName);
            }
            if (rowDims.Any(d => d < 0) || rowDims.Aggregate(1L, (p, d) => p * d) != 1)
            {
                throw new ModelRuntimeException(RuntimeErrorCodes.ShapeMismatch,
                    $"{where}: expected one element per row (tensor shape {Describe(modelDims)}), actual property is a scalar.",
                    $"Declare the property as an array with [VectorType{Describe(rowDims)}].", modelName);
            }
            return (rowDims, hasBatchAxis);
        }

        if (vectorDims is null)
        {
            if (rowDims.Any(d => d < 0))
            {
                if (allowUnknown)
                {
                    return (null, hasBatchAxis);
                }
                throw new ModelRuntimeException(RuntimeErrorCodes.UnresolvedDimension,
                    $"{where}: tensor shape {Describe(modelDims)} has a dynamic dimension besides the batch axis and the property declares no VectorType.",
                    $"Add [VectorType(...)] with the per-row shape to '{typeName}.{propertyName}'.", modelName);
            }
            return (rowDims, hasBatchAxis);
        }

        if (vectorDims.Any(d => d <= 0))
        {
            throw new ModelRuntimeException(RuntimeErrorCodes.ShapeMismatch,
                $"{where}: VectorType{Describe(vectorDims)} has a non-positive dimension.",
                "Give every VectorType dimension a positive size.", modelName);
        }

        if (vectorDims.Length == rowDims.Length)
        {
            for (int i = 0; i < rowDims.Length; i++)
            {
                if (rowDims[i] >= 0 && rowDims[i] != vectorDims[i])
                {
                    throw Mismatch();
                }
            }
            return ((int[])vectorDims.Clone(), hasBatchAxis);
        }

        // Different rank, same element count (e.g. VectorType(13) for a [1,13] tensor): accept the model's shape.
        if (rowDims.All(d => d >= 0) && rowDims.Aggregate(1L, (p, d) => p * d) == vectorDims.Aggregate(1L, (p, d) => p * d))
        {
            return (rowDims, hasBatchAxis);
        }
        throw Mismatch();

        ModelRuntimeException Mismatch() => new(RuntimeErrorCodes.ShapeMismatch,
            $"{where}: expected per-row shape {Describe(rowDims)} (tensor {Describe(modelDims)}), actual VectorType{Describe(vectorDims)}.",
            $"Change the VectorType on '{typeName}.{propertyName}' to VectorType{Describe(rowDims)}, or load the model the class was written for.",
            modelName);
    }
}
