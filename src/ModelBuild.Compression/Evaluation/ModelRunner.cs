using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Google.Protobuf;
using ModelBuild.Compression.Data;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// One ONNX Runtime session over a model with one or many inputs, fed from an <see cref="InputSet"/> in batches.
/// Binds the set to the model's inputs by name, checks each (element type, per-sample shape) and names expected vs got.
/// </summary>
public sealed class ModelRunner : IDisposable
{
    private readonly InferenceSession _session;

    public ModelRunner(string modelPath, int intraOpThreads = 1, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
        : this(modelPath, OpenOwned(CreateOptions(intraOpThreads, level), o => OrtSessions.Open(modelPath, o)))
    {
    }

    /// <summary>A runner over a session with the caller's options (the session tuner's candidates).</summary>
    public ModelRunner(string modelPath, SessionOptions options) : this(modelPath, OrtSessions.Open(modelPath, options))
    {
    }

    /// <summary>A runner over a model in memory (pruning measures each step's model without writing it out).</summary>
    public ModelRunner(OnnxModel model, int intraOpThreads = 1, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
        : this(model.ToBytes(), model.DisplayName, intraOpThreads, level)
    {
    }

    /// <summary>A runner over serialized model bytes; <paramref name="displayName"/> names the model in errors.</summary>
    public ModelRunner(byte[] model, string displayName, int intraOpThreads = 1, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL)
        : this(displayName, OpenOwned(CreateOptions(intraOpThreads, level), o => OrtSessions.Open(model, displayName, o)))
    {
    }

    private ModelRunner(string modelPath, InferenceSession session)
    {
        ModelPath = modelPath;
        _session = session;
        InputNames = _session.InputMetadata.Keys.ToArray();
        OutputNames = _session.OutputMetadata.Keys.ToArray();
        SampleAxes = OrtSessions.SampleAxes(_session.InputMetadata);
    }

    static InferenceSession OpenOwned(SessionOptions options, Func<SessionOptions, InferenceSession> open)
    {
        using (options) return open(options);
    }

    /// <summary>
    /// A runner whose outputs are the model's plus the named intermediate tensors (ONNX Runtime infers their types, so a
    /// bare name is enough), with graph optimizations off so that every named tensor exists: activations for pruning's
    /// importance and block influence, and concrete shapes (<see cref="TensorShapeProbe"/>). One thread.
    /// ONNX Runtime's own exception when it cannot load the graph: callers that built the graph report that themselves.
    /// </summary>
    public static ModelRunner Tapping(ModelProto model, IEnumerable<string> tensors)
    {
        var tapped = model.Clone();
        var existing = tapped.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in tensors)
            if (name.Length > 0 && existing.Add(name)) tapped.Graph.Output.Add(new ValueInfoProto { Name = name });
        tapped.Graph.ValueInfo.Clear();
        var session = OpenOwned(CreateOptions(1, GraphOptimizationLevel.ORT_DISABLE_ALL), o => new InferenceSession(tapped.ToByteArray(), o));
        return new ModelRunner(string.IsNullOrEmpty(model.Graph.Name) ? "<in-memory model>" : model.Graph.Name, session);
    }

    public static SessionOptions CreateOptions(int intraOpThreads, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_ALL) =>
        OrtSessions.CreateOptions(intraOpThreads, level);

    public string ModelPath { get; }
    /// <summary>The model's inputs in graph order.</summary>
    public IReadOnlyList<string> InputNames { get; }
    public IReadOnlyDictionary<string, NodeMetadata> Inputs => _session.InputMetadata;
    public IReadOnlyList<string> OutputNames { get; }
    /// <summary>Per input, the axis samples run along (the batch axis): 0, except where the model puts the batch elsewhere.</summary>
    public IReadOnlyDictionary<string, int> SampleAxes { get; }
    public InferenceSession Session => _session;

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
        // Data holds float32 or int64; other float and integer inputs get a converted copy when fed (CreateInput).
        var wantFloat = expectedType is TensorElementType.Float or TensorElementType.Double or TensorElementType.Float16;
        var wantInt = expectedType is TensorElementType.Int64 or TensorElementType.Int32 or TensorElementType.Int16 or TensorElementType.Int8
            or TensorElementType.UInt64 or TensorElementType.UInt32 or TensorElementType.UInt16 or TensorElementType.UInt8 or TensorElementType.Bool;
        if ((wantFloat && !data.IsFloat) || (wantInt && data.IsFloat) || (!wantFloat && !wantInt))
            throw new ModelBuildException("MB0509",
                $"The {role} '{data.Path}' holds {data.SourceDtype} ({data.ElementTypeName}) values but the model input '{name}' takes {expectedType.ToString().ToLowerInvariant()}.",
                wantFloat || wantInt ? $"Save the {role} as {(wantFloat ? "float32" : "int64")} (e.g. x.astype(np.{(wantFloat ? "float32" : "int64")}))."
                    : "ModelBuild feeds numeric and bool inputs only; export the model with a numeric input.", data.Path);
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

    /// <summary>One slice as an OrtValue of the model input's element type (data holds float32 or int64).</summary>
    public static OrtValue CreateInput(DataTensor slice, TensorElementType type)
    {
        var shape = slice.Shape;
        if (slice.IsFloat)
            return type switch
            {
                TensorElementType.Double => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(slice.Floats!, v => (double)v), shape),
                TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(slice.Floats!, v => new Float16(BitConverter.HalfToUInt16Bits((Half)v))), shape),
                _ => OrtValue.CreateTensorValueFromMemory(slice.Floats!, shape),
            };
        var ids = slice.Int64s!;
        return type switch
        {
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, v => (int)v), shape),
            TensorElementType.Int16 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, v => (short)v), shape),
            TensorElementType.Int8 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, v => (sbyte)v), shape),
            TensorElementType.UInt64 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, v => (ulong)v), shape),
            TensorElementType.UInt32 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, v => (uint)v), shape),
            TensorElementType.UInt16 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, v => (ushort)v), shape),
            TensorElementType.UInt8 => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, v => (byte)v), shape),
            TensorElementType.Bool => OrtValue.CreateTensorValueFromMemory(Array.ConvertAll(ids, v => v != 0), shape),
            _ => OrtValue.CreateTensorValueFromMemory(ids, shape),
        };
    }

    /// <summary>Runs every sample and returns each requested output flattened over the samples, in sample order.</summary>
    public ModelOutputs RunAll(InputSet data, int preferredBatch = 64, IReadOnlyList<string>? outputs = null, int? maxSamples = null)
    {
        var bound = Bind(data, "data");
        // Non-tensor outputs (a converter's ZipMap "probabilities" sequence of maps) carry nothing to score here.
        outputs ??= OutputNames.Where(n => _session.OutputMetadata[n].IsTensor).ToArray();
        var total = Math.Min(bound.Count, maxSamples ?? int.MaxValue);
        var batch = BatchSize(preferredBatch);
        if (batch != preferredBatch && total < batch)
            throw new ModelBuildException("MB0534",
                $"The data '{data.Path}' has {total} sample(s) but '{ModelPath}' takes a fixed batch of {batch} on input '{bound.Inputs[0].Name}', so not one batch can run and nothing would be measured.",
                $"Give at least {batch} samples (a multiple of {batch} uses them all), or export the model with a dynamic batch axis.", data.Path);
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
        // Integer outputs are predicted labels (scikit-learn / ML.NET converters), scored as labels, not arg-maxed.
        var integer = outputs.Select(n => _session.OutputMetadata.TryGetValue(n, out var m) && m.IsTensor
            && m.ElementDataType is TensorElementType.Int64 or TensorElementType.Int32).ToArray();
        return new ModelOutputs(outputs.ToArray(), collected.Select(c => c.ToArray()).ToArray(), perSample, integer);
    }

    /// <summary>One batch of a set bound by <see cref="Bind"/>: each requested output as floats.</summary>
    public IEnumerable<float[]> RunBatch(RunOptions runOptions, InputSet bound, int start, int count, IReadOnlyList<string> outputs) =>
        OnBatch(bound, start, count, inputs =>
        {
            using var results = _session.Run(runOptions, InputNames, inputs, outputs);
            var list = new List<float[]>();
            for (var i = 0; i < results.Count; i++) list.Add(ToFloats(results[i], outputs[i]));
            return list;
        });

    /// <summary>
    /// One batch of a set bound by <see cref="Bind"/>: every requested output that is a tensor, with its shape and, when
    /// it is float32, its values (an intermediate activation is read as it is, not converted).
    /// </summary>
    public IReadOnlyList<OutputTensor> RunTensors(InputSet bound, int start, int count, IReadOnlyList<string>? outputs = null) =>
        OnBatch(bound, start, count, inputs => RunTensors(InputNames, inputs, outputs ?? OutputNames));

    /// <summary>Runs <paramref name="run"/> on samples [start, start+count) of a bound set as OrtValues; MB0562 when ONNX Runtime fails.</summary>
    T OnBatch<T>(InputSet bound, int start, int count, Func<OrtValue[], T> run)
    {
        var inputs = CreateInputs(bound, start, count);
        try
        {
            return run(inputs);
        }
        catch (OnnxRuntimeException e)
        {
            // The data fits the declared input but not what the graph does with it, e.g. a token id past the vocabulary.
            throw new ModelBuildException(RunFailed,
                $"ONNX Runtime failed running '{ModelPath}' on samples {start}..{start + count - 1} of '{bound.Path}': {FirstLine(e.Message)}",
                "Check those samples against what the model expects (token ids below the vocabulary size, values in the range it was trained on).", bound.Path, e);
        }
        finally
        {
            foreach (var v in inputs) v.Dispose();
        }
    }

    /// <summary>One run on the caller's OrtValues (named <paramref name="inputNames"/>); see <see cref="RunTensors(InputSet, int, int, IReadOnlyList{string}?)"/>.</summary>
    public IReadOnlyList<OutputTensor> RunTensors(IReadOnlyList<string> inputNames, IReadOnlyList<OrtValue> inputs, IReadOnlyList<string> outputs)
    {
        using var runOptions = new RunOptions();
        using var results = _session.Run(runOptions, inputNames, inputs, outputs);
        var tensors = new List<OutputTensor>(outputs.Count);
        for (var i = 0; i < outputs.Count; i++)
        {
            if (!results[i].IsTensor) continue;
            var info = results[i].GetTensorTypeAndShape();
            tensors.Add(new OutputTensor(outputs[i], info.Shape,
                info.ElementDataType == TensorElementType.Float ? results[i].GetTensorDataAsSpan<float>().ToArray() : null));
        }
        return tensors;
    }

    /// <summary>A numeric output as floats; MB0563 for anything else (a ZipMap sequence of maps, strings).</summary>
    float[] ToFloats(OrtValue value, string name)
    {
        var type = value.IsTensor ? value.GetTensorTypeAndShape().ElementDataType : (TensorElementType?)null;
        return type switch
        {
            TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
            TensorElementType.Float16 => value.GetTensorDataAsSpan<Float16>().ToArray().Select(h => (float)(Half)BitConverter.UInt16BitsToHalf(h.value)).ToArray(),
            TensorElementType.Double => value.GetTensorDataAsSpan<double>().ToArray().Select(v => (float)v).ToArray(),
            TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray().Select(v => (float)v).ToArray(),
            TensorElementType.Int32 => value.GetTensorDataAsSpan<int>().ToArray().Select(v => (float)v).ToArray(),
            TensorElementType.Int8 => value.GetTensorDataAsSpan<sbyte>().ToArray().Select(v => (float)v).ToArray(),
            TensorElementType.UInt8 => value.GetTensorDataAsSpan<byte>().ToArray().Select(v => (float)v).ToArray(),
            TensorElementType.Bool => value.GetTensorDataAsSpan<bool>().ToArray().Select(v => v ? 1f : 0f).ToArray(),
            _ => throw new ModelBuildException(UnreadableOutput,
                $"The output '{name}' of '{ModelPath}' is {(type is { } t ? "a " + t.ToString().ToLowerInvariant() + " tensor" : "not a tensor (a sequence or map, e.g. a ZipMap of class probabilities)")}; evaluation reads numeric tensors.",
                "Export the model without ZipMap (skl2onnx: options={'zipmap': False}) or with numeric outputs.", ModelPath),
        };
    }

    /// <summary>ONNX Runtime failed while running the model on the data (see docs/diagnostics.md).</summary>
    public const string RunFailed = "MB0562";
    /// <summary>A model output is not a numeric tensor.</summary>
    public const string UnreadableOutput = "MB0563";

    public void Dispose() => _session.Dispose();

    internal static string FirstLine(string text) => OrtSessions.FirstLine(text);
}

/// <summary>One tensor a run produced: its name, its shape and its values when it is float32 (null otherwise).</summary>
public sealed record OutputTensor(string Name, long[] Shape, float[]? Floats);

/// <summary>
/// Outputs of a run over a data set: per output, values flattened sample-major. <paramref name="Integer"/> marks
/// integer outputs (one predicted label per sample in converted classifiers); null when unknown (all float).
/// </summary>
public sealed record ModelOutputs(string[] Names, float[][] Values, int[] PerSample, bool[]? Integer = null)
{
    public int Samples => PerSample.Length == 0 || PerSample[0] == 0 ? 0 : Values[0].Length / PerSample[0];

    /// <summary>
    /// The predicted class per sample from output <paramref name="index"/>: the value itself when it is an integer label
    /// output ([N] or [N,1] int64, as converted scikit-learn and ML.NET classifiers have), else the arg-max of its scores.
    /// Null when that output is one float per sample: there is no class to compare (a regressor, a single logit).
    /// </summary>
    public int[]? Predictions(int index = 0)
    {
        if (PerSample.Length <= index) return null;
        if (Integer is { } integer && integer.Length > index && integer[index] && PerSample[index] == 1)
            return Values[index].Select(v => (int)v).ToArray();
        return PerSample[index] < 2 ? null : ArgMax(Names[index]);
    }

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
