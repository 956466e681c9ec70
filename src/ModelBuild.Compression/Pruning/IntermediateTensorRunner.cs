using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Runs a model in ONNX Runtime with chosen intermediate tensors added as graph outputs. ORT infers the
/// added outputs' types itself, so a bare name is enough. Used for concrete shapes (a probe run) and for
/// activation statistics on calibration data. Optimizations are off so that every named tensor exists.
/// </summary>
internal sealed class IntermediateTensorRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _outputs;
    private readonly ValueInfoProto _input;

    public IntermediateTensorRunner(ModelProto model, IEnumerable<string> tensors)
    {
        var tapped = model.Clone();
        var existing = new HashSet<string>(tapped.Graph.Output.Select(o => o.Name));
        foreach (string name in tensors)
        {
            if (name.Length > 0 && existing.Add(name))
            {
                tapped.Graph.Output.Add(new ValueInfoProto { Name = name });
            }
        }
        tapped.Graph.ValueInfo.Clear();
        var initializers = new HashSet<string>(tapped.Graph.Initializer.Select(i => i.Name));
        var realInputs = tapped.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        if (realInputs.Count != 1)
        {
            throw CannotFeed($"it has {realInputs.Count} inputs ({string.Join(", ", realInputs.Select(i => i.Name))}) and the analysis runs models with exactly one");
        }
        _input = realInputs[0];
        _outputs = tapped.Graph.Output.Select(o => o.Name).ToArray();
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
        };
        _session = new InferenceSession(tapped.ToByteArray(), options);
    }

    public string InputName => _input.Name;

    /// <summary>The declared input shape with dynamic dimensions as -1.</summary>
    public long[] DeclaredInputShape => _input.Type.TensorType.Shape.Dim
        .Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1L).ToArray();

    public int InputElementType => _input.Type.TensorType.ElemType;

    /// <summary>Largest batch the model accepts (1 when the batch axis is fixed at 1).</summary>
    public int MaxBatch => DeclaredInputShape.Length > 0 && DeclaredInputShape[0] > 0 ? (int)DeclaredInputShape[0] : int.MaxValue;

    /// <summary>Runs one batch and hands every output (name, shape, float values or null for non-float) to <paramref name="sink"/>.</summary>
    public void Run(OrtValue input, Action<string, long[], ReadOnlySpan<float>, bool> sink)
    {
        using var runOptions = new RunOptions();
        using var results = _session.Run(runOptions, new[] { _input.Name }, new[] { input }, _outputs);
        for (int i = 0; i < _outputs.Length; i++)
        {
            var value = results[i];
            if (!value.IsTensor)
            {
                continue;
            }
            var info = value.GetTensorTypeAndShape();
            bool isFloat = info.ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float;
            sink(_outputs[i], info.Shape, isFloat ? value.GetTensorDataAsSpan<float>() : ReadOnlySpan<float>.Empty, isFloat);
        }
    }

    /// <summary>A deterministic batch-1 input of the declared shape (dynamic dims as 1): 0.5 for floats, 1 for integers.</summary>
    public OrtValue CreateProbeInput()
    {
        long[] shape = DeclaredInputShape.Select(d => d > 0 ? d : 1).ToArray();
        long count = shape.Aggregate(1L, (a, d) => a * d);
        return InputElementType switch
        {
            (int)TensorProto.Types.DataType.Float => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(0.5f, (int)count).ToArray(), shape),
            (int)TensorProto.Types.DataType.Int64 => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, (int)count).ToArray(), shape),
            (int)TensorProto.Types.DataType.Int32 => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1, (int)count).ToArray(), shape),
            _ => throw CannotFeed($"its input '{_input.Name}' is {(TensorProto.Types.DataType)InputElementType}, and the analysis feeds float, int64 or int32 inputs"),
        };
    }

    /// <summary>Rows [start, start + count) of <paramref name="data"/> as an ORT tensor.</summary>
    public static OrtValue CreateBatch(NpyArray data, int start, int count)
    {
        long[] shape = data.Shape.ToArray();
        shape[0] = count;
        int row = checked((int)data.RowLength);
        return data.Data switch
        {
            float[] f => OrtValue.CreateTensorValueFromMemory(f.AsSpan(start * row, count * row).ToArray(), shape),
            long[] l => OrtValue.CreateTensorValueFromMemory(l.AsSpan(start * row, count * row).ToArray(), shape),
            int[] i => OrtValue.CreateTensorValueFromMemory(i.AsSpan(start * row, count * row).ToArray(), shape),
            double[] d => OrtValue.CreateTensorValueFromMemory(d.AsSpan(start * row, count * row).ToArray().Select(x => (float)x).ToArray(), shape),
            _ => throw new NotSupportedException($"Pruning cannot feed {data} to ONNX Runtime."),
        };
    }

    /// <summary>MB0564: pruning's analysis cannot run this model (see docs/diagnostics.md).</summary>
    static ModelBuild.Onnx.Diagnostics.ModelBuildException CannotFeed(string detail) => new("MB0564",
        $"Pruning cannot analyse the model: {detail}.",
        "Skip --prune (Prune) for this model, or export it with a single float or integer input.");

    public void Dispose() => _session.Dispose();
}
