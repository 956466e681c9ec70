using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Evaluation;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// Runs an ONNX model in ONNX Runtime on TorchSharp tensors (copying bytes both ways). Used to precompute teacher
/// outputs once and to check the importer and the exported student against the reference runtime. The session is
/// Evaluation's <see cref="ModelRunner"/> (all graph optimizations; <c>threads</c> 0: ONNX Runtime's default).
/// </summary>
public sealed class OrtTensorBridge : IDisposable
{
    readonly ModelRunner _runner;

    public OrtTensorBridge(string modelPath, int threads = 0) => _runner = new ModelRunner(modelPath, threads);

    /// <summary>From a model held in memory (e.g. a fixed-batch graph generalized to any batch).</summary>
    public OrtTensorBridge(byte[] model, int threads = 0) => _runner = new ModelRunner(model, "<in-memory model>", threads);

    InferenceSession Session => _runner.Session;

    public IReadOnlyList<string> InputNames => Session.InputNames;
    public IReadOnlyList<string> OutputNames => Session.OutputNames;

    /// <summary>Runs the model; returns the named outputs (all graph outputs when <paramref name="outputNames"/> is null).</summary>
    public Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyList<string>? outputNames = null)
    {
        var names = outputNames ?? Session.OutputNames;
        var inputValues = new List<OrtValue>();
        try
        {
            var inNames = new List<string>();
            foreach (var (name, tensor) in inputs)
            {
                inNames.Add(name);
                inputValues.Add(ToOrt(tensor));
            }
            using var runOptions = new RunOptions();
            using var results = Session.Run(runOptions, inNames, inputValues, names);
            var output = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (int i = 0; i < names.Count; i++) output[names[i]] = ToTorch(results[i]);
            return output;
        }
        finally
        {
            foreach (var v in inputValues) v.Dispose();
        }
    }

    /// <summary>Runs a single-input model over <paramref name="inputs"/> in batches and concatenates the first output.</summary>
    public Tensor RunBatched(Tensor inputs, int batchSize = 256, string? outputName = null)
    {
        var inputName = Session.InputNames[0];
        var output = outputName ?? Session.OutputNames[0];
        var parts = new List<Tensor>();
        long n = inputs.shape[0];
        for (long start = 0; start < n; start += batchSize)
        {
            using var slice = inputs.slice(0, start, Math.Min(n, start + batchSize), 1);
            parts.Add(Run(new Dictionary<string, Tensor> { [inputName] = slice }, new[] { output })[output]);
        }
        var all = torch.cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    /// <summary>Runs the model over every row of <paramref name="inputs"/> (all its inputs, by name) in batches and concatenates one output (default: the first).</summary>
    public Tensor RunBatched(TrainingInputs inputs, int batchSize = 256, string? outputName = null)
    {
        var output = outputName ?? Session.OutputNames[0];
        var parts = new List<Tensor>();
        long n = inputs.Rows;
        for (long start = 0; start < n; start += batchSize)
        {
            using var scope = torch.NewDisposeScope();
            var batch = inputs.Slice(start, Math.Min(n, start + batchSize)).ByName();
            if (batch.Count == 1 && Session.InputNames.Count == 1) batch = new() { [Session.InputNames[0]] = batch.Values.First() };
            parts.Add(Run(batch, new[] { output })[output].MoveToOuterDisposeScope());
        }
        var all = torch.cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    public static OrtValue ToOrt(Tensor tensor)
    {
        using var c = tensor.detach().cpu().contiguous();
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, ToOrtType(c.dtype), c.shape);
        if (c.numel() > 0) c.bytes.CopyTo(value.GetTensorMutableRawData());
        return value;
    }

    public static Tensor ToTorch(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        var type = ToTorchType(info.ElementDataType);
        var t = torch.empty(info.Shape, type);
        if (info.ElementCount > 0) t.bytes = value.GetTensorMutableRawData();
        return t;
    }

    // ONNX Runtime's element types are ONNX's data type numbers, so the importer's one torch <-> ONNX table serves both.
    static TensorElementType ToOrtType(ScalarType t) => (TensorElementType)(int)Import.TensorProtoConverter.ToOnnxType(t);

    static ScalarType ToTorchType(TensorElementType t) =>
        Import.TensorProtoConverter.ToScalarType((int)t) ?? throw new NotSupportedException($"No torch element type for ONNX Runtime type {t}.");

    public void Dispose() => _runner.Dispose();
}
