using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Runtime.Mapping;

/// <summary>One property of the input class bound to one model input tensor; creates per-context buffers.</summary>
internal abstract class InputColumn<TIn>(string modelName, string propertyName, string tensorName, int[] rowDims, bool hasBatchAxis)
{
    public string ModelName { get; } = modelName;
    public string PropertyName { get; } = propertyName;
    public string TensorName { get; } = tensorName;
    public int[] RowDims { get; } = rowDims;
    public bool HasBatchAxis { get; } = hasBatchAxis;
    public int ElementsPerRow { get; } = rowDims.Aggregate(1, (p, d) => checked(p * d));

    public long[] ShapeFor(int rows) =>
        HasBatchAxis ? [rows, .. RowDims.Select(d => (long)d)] : [.. RowDims.Select(d => (long)d)];

    /// <summary>A buffer for <paramref name="rows"/> rows, wrapped once as an OrtValue and reused for every call.</summary>
    public abstract InputBuffer<TIn> CreateBuffer(int rows);

    /// <summary>An array property's value for one row, checked to hold exactly <see cref="ElementsPerRow"/> elements.</summary>
    protected TElement[] CheckedRow<TElement>(TElement[]? source) =>
        source is not null && source.Length == ElementsPerRow ? source : throw LengthMismatch(source?.Length);

    private ModelRuntimeException LengthMismatch(int? actual) => new(RuntimeErrorCodes.InputLengthMismatch,
        $"Property '{typeof(TIn).Name}.{PropertyName}' for tensor '{TensorName}' of model '{ModelName}' holds {(actual is null ? "null" : actual + " elements")}; the tensor needs {ElementsPerRow} per row.",
        $"Fill '{PropertyName}' with exactly {ElementsPerRow} values.", ModelName);
}

internal abstract class InputBuffer<TIn> : IDisposable
{
    public required OrtValue Value { get; init; }

    /// <summary>Copies one input object into row <paramref name="row"/> of the pinned buffer.</summary>
    public abstract void Write(TIn input, int row);

    public void Dispose() => Value.Dispose();
}

/// <summary>A float/double/int/long/bool scalar or array property, copied into a pinned managed array.</summary>
internal sealed class NumericInputColumn<TIn, T> : InputColumn<TIn> where T : unmanaged
{
    private readonly Func<TIn, T>? _scalar;
    private readonly Func<TIn, T[]?>? _array;

    public NumericInputColumn(string modelName, System.Reflection.MemberInfo property, string tensorName, int[] rowDims, bool hasBatchAxis)
        : base(modelName, property.Name, tensorName, rowDims, hasBatchAxis)
    {
        if (MemberAccessors.MemberType(property).IsArray)
        {
            _array = MemberAccessors.Getter<TIn, T[]?>(property);
        }
        else
        {
            _scalar = MemberAccessors.Getter<TIn, T>(property);
        }
    }

    public override InputBuffer<TIn> CreateBuffer(int rows)
    {
        var data = new T[rows * ElementsPerRow];
        return new Buffer(this, data) { Value = OrtValue.CreateTensorValueFromMemory(data, ShapeFor(rows)) };
    }

    private sealed class Buffer(NumericInputColumn<TIn, T> column, T[] data) : InputBuffer<TIn>
    {
        public override void Write(TIn input, int row)
        {
            int n = column.ElementsPerRow;
            if (column._array is not null)
            {
                var source = column.CheckedRow(column._array(input));
                source.AsSpan().CopyTo(data.AsSpan(row * n, n));
            }
            else
            {
                data[row] = column._scalar!(input);
            }
        }
    }
}

/// <summary>A string scalar or array property, written into an ONNX Runtime string tensor.</summary>
internal sealed class StringInputColumn<TIn> : InputColumn<TIn>
{
    private readonly Func<TIn, string?>? _scalar;
    private readonly Func<TIn, string?[]?>? _array;

    public StringInputColumn(string modelName, System.Reflection.MemberInfo property, string tensorName, int[] rowDims, bool hasBatchAxis)
        : base(modelName, property.Name, tensorName, rowDims, hasBatchAxis)
    {
        if (MemberAccessors.MemberType(property).IsArray)
        {
            _array = MemberAccessors.Getter<TIn, string?[]?>(property);
        }
        else
        {
            _scalar = MemberAccessors.Getter<TIn, string?>(property);
        }
    }

    public override InputBuffer<TIn> CreateBuffer(int rows) =>
        new Buffer(this) { Value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, ShapeFor(rows)) };

    private sealed class Buffer(StringInputColumn<TIn> column) : InputBuffer<TIn>
    {
        public override void Write(TIn input, int row)
        {
            int n = column.ElementsPerRow;
            if (column._array is not null)
            {
                var source = column.CheckedRow(column._array(input));
                for (int i = 0; i < n; i++)
                {
                    Value.StringTensorSetElementAt((source[i] ?? string.Empty).AsSpan(), row * n + i);
                }
            }
            else
            {
                Value.StringTensorSetElementAt((column._scalar!(input) ?? string.Empty).AsSpan(), row);
            }
        }
    }
}
