using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Compression.Data;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// One ONNX Runtime session over a model with one or many inputs, fed from an <see cref="InputSet"/> in batches.
/// Binds the set to the model's inputs by name, checks each (element type, per-sample shape) and names expected vs got.
/// </summary>
public sealed class ModelRunner : IDisposable
{
    private readonly InferenceSession _session;

    public ModelRunner(string modelPath, int intraOpThreads = 1, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        ModelPath = modelPath;
        using var options = CreateOptions(intraOpThreads, level);
        try { _session = new InferenceSession(modelPath, options); }
        catch (OnnxRuntimeException e)
        {
            throw new ModelBuildException("MB0507", $"ONNX Runtime cannot load '{modelPath}': {FirstLine(e.Message)}", "Check that the model is valid ONNX (onnx.checker) and uses operators ONNX Runtime 1.31 supports.", modelPath, e);
        }
        InputNames = _session.InputMetadata.Keys.ToArray();
        OutputNames = _session.OutputMetadata.Keys.ToArray();
        SampleAxes = FindSampleAxes(_session.InputMetadata);
    }

    public static SessionOptions CreateOptions(int intraOpThreads, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = level,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        // Spinning threads distort measurements on a shared machine and buy nothing with one thread.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }

    public string ModelPath { get; }
    /// <summary>The model's inputs in graph order.</summary>
    public IReadOnlyList<string> InputNames { get; }
    public IReadOnlyDictionary<string, NodeMetadata> Inputs => _session.InputMetadata;
    public IReadOnlyList<string> OutputNames { get; }
    /// <summary>Per input, the axis samples run along (the batch axis): 0, except where the model puts the batch elsewhere.</summary>
    public IReadOnlyDictionary<string, int> SampleAxes { get; }
    public InferenceSession Session => _session;

    /// <summary>
    /// The batch axis of every input: the symbolic name of the first input's axis 0 (e.g. <c>batch_size</c>) marks the
    /// batch wherever it appears (GPT-2's <c>past_*</c> are <c>[2, batch_size, heads, past, head]</c>); 0 otherwise.
    /// </summary>
    static Dictionary<string, int> FindSampleAxes(IReadOnlyDictionary<string, NodeMetadata> inputs)
    {
        var first = inputs.Values.FirstOrDefault();
        var batchSymbol = first?.SymbolicDimensions is { Length: > 0 } s && !string.IsNullOrEmpty(s[0]) ? s[0] : null;
        return inputs.ToDictionary(p => p.Key, p =>
        {
            if (batchSymbol is null) return 0;
            var axis = Array.IndexOf(p.Value.SymbolicDimensions ?? [], batchSymbol);
            return axis < 0 ? 0 : axis;
        }, StringComparer.Ordinal);
    }

    /// <summary>The batch size the model accepts: the fixed batch dimension of an input, or <paramref name="preferred"/> when dynamic.</summary>
    public int BatchSize(int preferred)
    {
        foreach (var name in InputNames)
        {
            var dims = Inputs[name].Dimensions;
            var axis = SampleAxes[name];
            if (axis < dims.Length && dims[axis] > 0) return dims[axis];
        }
        return preferred;
    }

    /// <summary>
    /// The set bound to this model's inputs (by name; a lone array to a single-input model) and checked: MB0508/MB0582
    /// when inputs are missing, MB0509 (wrong dtype) or MB0510 (wrong shape) naming expected vs got.
    /// </summary>
    public InputSet Bind(InputSet data, string role)
    {
        var bound = data.BindTo(InputNames, role, SampleAxes);
        foreach (var input in bound.Inputs) Check(input, role);
        return bound;
    }

    /// <summary>Throws when <paramref name="data"/> does not fit the model (see <see cref="Bind"/>).</summary>
    public void CheckData(InputSet data, string role) => Bind(data, role);

    void Check(NamedTensor input, string role)
    {
        var data = input.Tensor;
        var name = input.Name!;
        var meta = Inputs[name];
        var expectedType = meta.ElementDataType;
        var wantFloat = expectedType == TensorElementType.Float;
        var wantInt = expectedType is TensorElementType.Int64 or TensorElementType.Int32;
        if ((wantFloat && !data.IsFloat) || (wantInt && data.IsFloat) || (!wantFloat && !wantInt))
            throw new ModelBuildException("MB0509",
                $"The {role} '{data.Path}' holds {data.SourceDtype} ({data.ElementTypeName}) values but the model input '{name}' takes {expectedType.ToString().ToLowerInvariant()}.",
                $"Save the {role} as {(wantFloat ? "float32" : "int64")} (e.g. x.astype(np.{(wantFloat ? "float32" : "int64")})).", data.Path);
        var dims = meta.Dimensions;
        var axis = input.SampleAxis;
        var ok = dims.Length == data.Shape.Length;
        for (var i = 0; ok && i < dims.Length; i++)
            ok = i == axis || dims[i] <= 0 || dims[i] == data.Shape[i];
        if (!ok || input.Count == 0)
        {
            string Dims(bool withN) => string.Join(",", dims.Select((d, i) => i == axis ? (withN ? "N" : "samples") : d <= 0 ? "?" : d.ToString()));
            throw new ModelBuildException("MB0510",
                $"The {role} '{data.Path}' has shape {data.ShapeText} but the model input '{name}' expects [{Dims(true)}]{(input.Count == 0 ? " with at least one sample" : "")}.",
                $"Reshape the {role} to [{Dims(false)}] before saving it.", data.Path);
        }
    }

    /// <summary>OrtValues for samples [start, start+count) of a bound set, one per model input, in <see cref="InputNames"/> order.</summary>
    public OrtValue[] CreateInputs(InputSet bound, int start, int count) =>
        bound.Inputs.Select(i => CreateInput(i.Tensor.Shape.Length == 0 ? i.Tensor : i.Slice(start, count), Inputs[i.Name!].ElementDataType)).ToArray();

    static OrtValue CreateInput(DataTensor slice, TensorElementType type)
    {
        var shape = slice.Shape;
        if (slice.IsFloat) return OrtValue.CreateTensorValueFromMemory(slice.Floats!, shape);
        if (type == TensorElementType.Int32)
            return OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(slice.Int64s!, v => (int)v), shape);
        return OrtValue.CreateTensorValueFromMemory(slice.Int64s!, shape);
    }

    /// <summary>Runs every sample and returns each requested output flattened over the samples, in sample order.</summary>
    public ModelOutputs RunAll(InputSet data, int preferredBatch = 64, IReadOnlyList<string>? outputs = null, int? maxSamples = null)
    {
        var bound = Bind(data, "data");
        outputs ??= OutputNames;
        var total = Math.Min(bound.Count, maxSamples ?? int.MaxValue);
        var batch = BatchSize(preferredBatch);
        var collected = outputs.Select(_ => new List<float>()).ToArray();
        var perSample = new int[outputs.Count];
        using var runOptions = new RunOptions();
        for (var start = 0; start < total; start += batch)
        {
            var count = Math.Min(batch, total - start);
            if (batch != preferredBatch && count != batch) break; // fixed-batch model: drop a ragged tail
            var i = 0;
            foreach (var values in RunBatch(runOptions, bound, start, count, outputs))
            {
                perSample[i] = values.Length / count;
                collected[i].AddRange(values);
                i++;
            }
        }
        return new ModelOutputs(outputs.ToArray(), collected.Select(c => c.ToArray()).ToArray(), perSample);
    }

    /// <summary>One batch of a set bound by <see cref="Bind"/>: each requested output as floats.</summary>
    public IEnumerable<float[]> RunBatch(RunOptions runOptions, InputSet bound, int start, int count, IReadOnlyList<string> outputs)
    {
        var inputs = CreateInputs(bound, start, count);
        try
        {
            using var results = _session.Run(runOptions, InputNames, inputs, outputs);
            var list = new List<float[]>();
            foreach (var value in results) list.Add(ToFloats(value));
            return list;
        }
        finally
        {
            foreach (var v in inputs) v.Dispose();
        }
    }

    static float[] ToFloats(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        return info.ElementDataType switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Float16 => value.GetTensorDataAsSpan<Float16>().ToArray().Select(h => (float)(Half)BitConverter.UInt16BitsToHalf(h.value)).ToArray(),
            TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray().Select(v => (float)v).ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray().Select(v => (float)v).ToArray(),
            TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray().Select(v => (float)v).ToArray(),
            _ => throw new InvalidOperationException($"Output of type {info.ElementDataType} is not supported for evaluation."),
        };
    }

    public void Dispose() => _session.Dispose();

    internal static string FirstLine(string text) => text.Split('\n')[0].Trim();
}

/// <summary>Outputs of a run over a data set: per output, values flattened sample-major.</summary>
public sealed record ModelOutputs(string[] Names, float[][] Values, int[] PerSample)
{
    public int Samples => PerSample.Length == 0 || PerSample[0] == 0 ? 0 : Values[0].Length / PerSample[0];

    /// <summary>Arg-max per sample of the output <paramref name="output"/> (the first when null): the class prediction.</summary>
    public int[] ArgMax(string? output = null)
    {
        var index = output is null ? 0 : Array.IndexOf(Names, output);
        if (index < 0) throw new InvalidOperationException($"No output '{output}' among {string.Join(", ", Names)}.");
        var width = PerSample[index];
        var values = Values[index];
        var result = new int[width == 0 ? 0 : values.Length / width];
        for (var s = 0; s < result.Length; s++)
        {
            var best = 0;
            for (var c = 1; c < width; c++)
                if (values[s * width + c] > values[s * width + best]) best = c;
            result[s] = best;
        }
        return result;
    }
}
