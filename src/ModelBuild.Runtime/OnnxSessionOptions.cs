using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Runtime;

/// <summary>
/// ONNX Runtime session settings applied to every generation of every model of a pool. The defaults suit a server:
/// one intra-op thread per call, because concurrency comes from the callers sharing the session.
/// </summary>
public sealed class OnnxSessionOptions
{
    public int IntraOpNumThreads { get; set; } = 1;

    public int InterOpNumThreads { get; set; } = 1;

    public GraphOptimizationLevel GraphOptimizationLevel { get; set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    public ExecutionMode ExecutionMode { get; set; } = ExecutionMode.ORT_SEQUENTIAL;

    /// <summary>"CPU" (default), "CUDA", "DML", or any name ONNX Runtime's generic AppendExecutionProvider knows (e.g. "XNNPACK", "CoreML").</summary>
    public string ExecutionProvider { get; set; } = "CPU";

    /// <summary>Provider options (e.g. "device_id" for CUDA/DML).</summary>
    public Dictionary<string, string> ExecutionProviderOptions { get; } = new(StringComparer.Ordinal);

    /// <summary>Anything else, applied last to the ONNX Runtime SessionOptions.</summary>
    public Action<SessionOptions>? Configure { get; set; }

    internal SessionOptions Create(string modelName)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = IntraOpNumThreads,
            InterOpNumThreads = InterOpNumThreads,
            GraphOptimizationLevel = GraphOptimizationLevel,
            ExecutionMode = ExecutionMode,
        };
        try
        {
            AppendProvider(options);
            Configure?.Invoke(options);
            return options;
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException or NotSupportedException)
        {
            options.Dispose();
            throw new ModelRuntimeException(RuntimeErrorCodes.ExecutionProviderUnavailable,
                $"Execution provider '{ExecutionProvider}' for model '{modelName}' is not available in this ONNX Runtime build: {ex.Message}",
                "Reference the ONNX Runtime package that contains the provider (e.g. Microsoft.ML.OnnxRuntime.Gpu for CUDA) or set ExecutionProvider to \"CPU\".",
                modelName, ex);
        }
    }

    private void AppendProvider(SessionOptions options)
    {
        int DeviceId() => ExecutionProviderOptions.TryGetValue("device_id", out var id) ? int.Parse(id, System.Globalization.CultureInfo.InvariantCulture) : 0;
        switch (ExecutionProvider.ToUpperInvariant())
        {
            case "CPU":
                return;
            case "CUDA":
                options.AppendExecutionProvider_CUDA(DeviceId());
                return;
            case "DML":
            case "DIRECTML":
                options.AppendExecutionProvider_DML(DeviceId());
                return;
            default:
                options.AppendExecutionProvider(ExecutionProvider, ExecutionProviderOptions);
                return;
        }
    }
}
