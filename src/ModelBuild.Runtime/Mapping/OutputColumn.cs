using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Runtime.Mapping;

/// <summary>One property of the output class filled from one model output tensor.</summary>
internal abstract class OutputColumn<TOut>(string propertyName, string tensorName, int[]? rowDims, bool hasBatchAxis)
{
    public string PropertyName { get; } = propertyName;
    public string TensorName { get; } = tensorName;
    /// <summary>Null when a dimension is only known after the run (ONNX Runtime then allocates the output).</summary>
    public int[]? RowDims { get; } = rowDims;
    public bool HasBatchAxis { get; } = hasBatchAxis;
    public int ElementsPerRow { get; } = rowDims?.Aggregate(1, (p, d) => checked(p * d)) ?? -1;

    /// <summary>Whether the output can be written by ONNX Runtime into a buffer we allocate once.</summary>
    public abstract bool CanPreallocate { get; }

    public long[] ShapeFor(int rows) =>
        HasBatchAxis ? [rows, .. RowDims!.Select(d => (long)d)] : [.. RowDims!.Select(d => (long)d)];

    public abstract OutputBuffer<TOut> CreateBuffer(int rows);

    /// <summary>Copies row <paramref name="row"/> of an output ONNX Runtime allocated into the output object.</summary>
    public abstract void ReadAllocated(OrtValue value, TOut output, int row, int rows);
}

internal abstract class OutputBuffer<TOut> : IDisposable
{
    public required OrtValue Value { get; init; }

    public abstract void Read(TOut output, int row);

    public void Dispose() => Value.Dispose();
}

internal sealed class NumericOutputColumn<TOut, T> : OutputColumn<TOut> where T : unmanaged
{
    private readonly Func<TOut, T[]?>? _getArray;
    private readonly Action<TOut, T[]?>? _setArray;
    private readonly Action<TOut, T>? _setScalar;

    public NumericOutputColumn(System.Reflection.MemberInfo property, string tensorName, int[]? rowDims, bool hasBatchAxis)
        : base(property.Name, tensorName, rowDims, hasBatchAxis)
    {
        if (MemberAccessors.MemberType(property).IsArray)
        {
            _setArray = MemberAccessors.Setter<TOut, T[]?>(property);
            _getArray = MemberAccessors.TryGetter<TOut, T[]?>(property);
        }
        else
        {
            _setScalar = MemberAccessors.Setter<TOut, T>(property);
        }
    }

    public override bool CanPreallocate => RowDims is not null;

    public override OutputBuffer<TOut> CreateBuffer(int rows)
    {
        var data = new T[rows * ElementsPerRow];
        return new Buffer(this, data) { Value = OrtValue.CreateTensorValueFromMemory(data, ShapeFor(rows)) };
    }

    public override void ReadAllocated(OrtValue value, TOut output, int row, int rows)
    {
        var all = value.GetTensorDataAsSpan<T>();
        int perRow = all.Length / rows;
        Store(output, all.Slice(row * perRow, perRow));
    }

    /// <summary>Reuses the caller's array when it has the right length, so a warm call allocates nothing.</summary>
    private void Store(TOut output, ReadOnlySpan<T> values)
    {
        if (_setScalar is not null)
        {
            _setScalar(output, values[0]);
            return;
        }
        var target = _getArray?.Invoke(output);
        if (target is null || target.Length != values.Length)
        {
            target = new T[values.Length];
            _setArray!(output, target);
        }
        values.CopyTo(target);
    }

    private sealed class Buffer(NumericOutputColumn<TOut, T> column, T[] data) : OutputBuffer<TOut>
    {
        public override void Read(TOut output, int row)
        {
            int n = column.ElementsPerRow;
            column.Store(output, data.AsSpan(row * n, n));
        }
    }
}

/// <summary>String outputs: ONNX Runtime allocates them (it cannot write strings into caller memory).</summary>
internal sealed class StringOutputColumn<TOut> : OutputColumn<TOut>
{
    private readonly Action<TOut, string?[]?>? _setArray;
    private readonly Action<TOut, string?>? _setScalar;

    public StringOutputColumn(System.Reflection.MemberInfo property, string tensorName, int[]? rowDims, bool hasBatchAxis)
        : base(property.Name, tensorName, rowDims, hasBatchAxis)
    {
        if (MemberAccessors.MemberType(property).IsArray)
        {
            _setArray = MemberAccessors.Setter<TOut, string?[]?>(property);
        }
        else
        {
            _setScalar = MemberAccessors.Setter<TOut, string?>(property);
        }
    }

    public override bool CanPreallocate => false;

    public override OutputBuffer<TOut> CreateBuffer(int rows) => throw new NotSupportedException("String outputs are allocated by ONNX Runtime.");

    public override void ReadAllocated(OrtValue value, TOut output, int row, int rows)
    {
        int total = checked((int)value.GetTensorTypeAndShape().ElementCount);
        int perRow = total / rows;
        if (_setScalar is not null)
        {
            _setScalar(output, value.GetStringElement(row * perRow));
            return;
        }
        var strings = new string?[perRow];
        for (int i = 0; i < perRow; i++)
        {
            strings[i] = value.GetStringElement(row * perRow + i);
        }
        _setArray!(output, strings);
    }
}
