using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// One ONNX Runtime session over a single-input model, fed from a <see cref="DataTensor"/> in batches.
/// Checks the data against the model's input (element type, per-sample shape) and names expected vs got.
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
        if (_session.InputMetadata.Count != 1)
            throw new ModelBuildException("MB0508", $"'{modelPath}' has {_session.InputMetadata.Count} inputs ({string.Join(", ", _session.InputMetadata.Keys)}); evaluation and calibration take one input tensor.", "Export the model with a single input, or compress it without --eval-data/--calibration-data.", modelPath);
        InputName = _session.InputMetadata.Keys.First();
        InputMetadata = _session.InputMetadata[InputName];
        OutputNames = _session.OutputMetadata.Keys.ToArray();
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
    public string InputName { get; }
    public NodeMetadata InputMetadata { get; }
    public IReadOnlyList<string> OutputNames { get; }
    public InferenceSession Session => _session;

    /// <summary>The batch size the model accepts: its fixed first dimension, or <paramref name="preferred"/> when dynamic.</summary>
    public int BatchSize(int preferred) => InputMetadata.Dimensions.Length > 0 && InputMetadata.Dimensions[0] > 0 ? InputMetadata.Dimensions[0] : preferred;

    /// <summary>Throws MB0509 (wrong dtype) or MB0510 (wrong shape) naming expected vs got.</summary>
    public void CheckData(DataTensor data, string role)
    {
        var expectedType = InputMetadata.ElementDataType;
        var wantFloat = expectedType is TensorElementType.Float or TensorElementType.Float16;
        var wantInt = expectedType is TensorElementType.Int64 or TensorElementType.Int32;
        if ((wantFloat && !data.IsFloat) || (wantInt && data.IsFloat) || (!wantFloat && !wantInt))
            throw new ModelBuildException("MB0509",
                $"The {role} '{data.Path}' holds {data.SourceDtype} ({data.ElementTypeName}) values but the model input '{InputName}' takes {expectedType.ToString().ToLowerInvariant()}.",
                $"Save the {role} as {(wantFloat ? "float32" : "int64")} (e.g. x.astype(np.{(wantFloat ? "float32" : "int64")})).", data.Path);
        var dims = InputMetadata.Dimensions;
        var ok = dims.Length == data.Shape.Length;
        for (var i = 1; ok && i < dims.Length; i++)
            ok = dims[i] <= 0 || dims[i] == data.Shape[i];
        if (!ok || data.Count == 0)
            throw new ModelBuildException("MB0510",
                $"The {role} '{data.Path}' has shape {data.ShapeText} but the model input '{InputName}' expects [{string.Join(",", dims.Select((d, i) => i == 0 ? "N" : d <= 0 ? "?" : d.ToString()))}]{(data.Count == 0 ? " with at least one sample" : "")}.",
                $"Reshape the {role} to [samples,{string.Join(",", dims.Skip(1).Select(d => d <= 0 ? "?" : d.ToString()))}] before saving it.", data.Path);
    }

    public OrtValue CreateInput(DataTensor data, int start, int count)
    {
        var shape = data.Shape.ToArray();
        shape[0] = count;
        if (data.IsFloat && InputMetadata.ElementDataType == TensorElementType.Float16)
            return OrtValue.CreateTensorValueFromMemory(data.SliceFloats(start, count).Select(v => new Float16(BitConverter.HalfToUInt16Bits((Half)v))).ToArray(), shape);
        if (data.IsFloat) return OrtValue.CreateTensorValueFromMemory(data.SliceFloats(start, count), shape);
        if (InputMetadata.ElementDataType == TensorElementType.Int32)
            return OrtValue.CreateTensorValueFromMemory(data.SliceInt64s(start, count).Select(v => (int)v).ToArray(), shape);
        return OrtValue.CreateTensorValueFromMemory(data.SliceInt64s(start, count), shape);
    }

    /// <summary>Runs every sample and returns each requested output flattened over the samples, in sample order.</summary>
    public ModelOutputs RunAll(DataTensor data, int preferredBatch = 64, IReadOnlyList<string>? outputs = null, int? maxSamples = null)
    {
        CheckData(data, "data");
        outputs ??= OutputNames;
        var total = Math.Min(data.Count, maxSamples ?? int.MaxValue);
        var batch = BatchSize(preferredBatch);
        var collected = outputs.Select(_ => new List<float>()).ToArray();
        var perSample = new int[outputs.Count];
        using var runOptions = new RunOptions();
        for (var start = 0; start < total; start += batch)
        {
            var count = Math.Min(batch, total - start);
            if (batch != preferredBatch && count != batch) break; // fixed-batch model: drop a ragged tail
            foreach (var (name, values) in RunBatch(runOptions, data, start, count, outputs).Select((v, i) => (outputs[i], v)))
            {
                var index = outputs.ToList().IndexOf(name);
                perSample[index] = values.Length / count;
                collected[index].AddRange(values);
            }
        }
        return new ModelOutputs(outputs.ToArray(), collected.Select(c => c.ToArray()).ToArray(), perSample);
    }

    public IEnumerable<float[]> RunBatch(RunOptions runOptions, DataTensor data, int start, int count, IReadOnlyList<string> outputs)
    {
        using var input = CreateInput(data, start, count);
        using var results = _session.Run(runOptions, [InputName], [input], outputs);
        var list = new List<float[]>();
        foreach (var value in results)
        {
            var info = value.GetTensorTypeAndShape();
            list.Add(info.ElementDataType switch
            {
                TensorElementType.Float => value.GetTensorDataAsSpan<float>().ToArray(),
                TensorElementType.Float16 => value.GetTensorDataAsSpan<Float16>().ToArray().Select(h => (float)(Half)BitConverter.UInt16BitsToHalf(h.value)).ToArray(),
                TensorElementType.Int64 => value.GetTensorDataAsSpan<long>().ToArray().Select(v => (float)v).ToArray(),
                _ => throw new InvalidOperationException($"Output of type {info.ElementDataType} is not supported for evaluation."),
            });
        }
        return list;
    }

    public void Dispose() => _session.Dispose();

    internal static string FirstLine(string text) => text.Split('\n')[0].Trim();
}

/// <summary>Outputs of a run over a data set: per output, values flattened sample-major.</summary>
public sealed record ModelOutputs(string[] Names, float[][] Values, int[] PerSample)
{
    public int Samples => PerSample.Length == 0 || PerSample[0] == 0 ? 0 : Values[0].Length / PerSample[0];

    /// <summary>Arg-max of the first output per sample (class prediction).</summary>
    public int[] ArgMax()
    {
        var width = PerSample[0];
        var values = Values[0];
        var result = new int[Samples];
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
