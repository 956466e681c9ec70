using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Runtime;

/// <summary>
/// ONNX Runtime session settings applied to every generation of every model of a pool. The defaults suit a server:
/// one intra-op thread per call, because concurrency comes from the callers sharing the session.
/// Precedence, per setting: a value the app sets here wins; otherwise the settings `modelbuild compress` recorded
/// for the model (its <c>&lt;model&gt;.session.json</c>, see <see cref="RecordedSessionSettings"/>) unless
/// <see cref="UseRecordedSettings"/> is false, with intra-op threads capped by <see cref="ExpectedConcurrentCallers"/>;
/// otherwise these defaults. <see cref="Configure"/> runs last and can change anything.
/// </summary>
public sealed class OnnxSessionOptions
{
    private int? _intraOpNumThreads;
    private int? _interOpNumThreads;
    private GraphOptimizationLevel? _graphOptimizationLevel;
    private ExecutionMode? _executionMode;

    /// <summary>Default 1 (or the recorded setting).</summary>
    public int IntraOpNumThreads { get => _intraOpNumThreads ?? 1; set => _intraOpNumThreads = value; }

    /// <summary>Default 1 (or the recorded setting).</summary>
    public int InterOpNumThreads { get => _interOpNumThreads ?? 1; set => _interOpNumThreads = value; }

    /// <summary>Default ORT_ENABLE_ALL (or the recorded setting).</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get => _graphOptimizationLevel ?? GraphOptimizationLevel.ORT_ENABLE_ALL; set => _graphOptimizationLevel = value; }

    /// <summary>Default ORT_SEQUENTIAL (or the recorded setting).</summary>
    public ExecutionMode ExecutionMode { get => _executionMode ?? ExecutionMode.ORT_SEQUENTIAL; set => _executionMode = value; }

    /// <summary>Use the settings recorded next to a model file (<c>&lt;model&gt;.session.json</c>) for what the app does not set. Default true.</summary>
    public bool UseRecordedSettings { get; set; } = true;

    /// <summary>
    /// How many callers the app expects to run one model at the same time. Recorded intra-op threads are capped at
    /// max(1, cores / this), so that callers sharing the session do not fight over cores: a model tuned to 2 threads
    /// on a 2-core machine runs on 1 thread when 2 or more concurrent callers are expected. Default 1 (a single caller
    /// gets the recorded thread count). Does not cap a thread count the app sets itself.
    /// </summary>
    public int ExpectedConcurrentCallers { get; set; } = 1;

    /// <summary>
    /// When the recorded settings give a model more than one thread (intra-op threads, or parallel execution over
    /// inter-op threads), the pool keeps a second session of the model with one thread and runs every call that
    /// overlaps another on it: a lone caller gets the tuned speed, many
    /// callers get one thread each (the default's throughput) instead of fighting over the cores. Costs a second
    /// session (the weights twice in memory). Default true; false uses the recorded threads for every call.
    /// </summary>
    public bool OneThreadForOverlappingCalls { get; set; } = true;

    /// <summary>"CPU" (default), "CUDA", "DML", or any name ONNX Runtime's generic AppendExecutionProvider knows (e.g. "XNNPACK", "CoreML").</summary>
    public string ExecutionProvider { get; set; } = "CPU";

    /// <summary>Provider options (e.g. "device_id" for CUDA/DML).</summary>
    public Dictionary<string, string> ExecutionProviderOptions { get; } = new(StringComparer.Ordinal);

    /// <summary>Anything else, applied last to the ONNX Runtime SessionOptions.</summary>
    public Action<SessionOptions>? Configure { get; set; }

    /// <summary>The settings a session for <paramref name="modelName"/> gets, with where each came from.</summary>
    internal EffectiveSessionSettings Resolve(RecordedSessionSettings? recorded)
    {
        var use = UseRecordedSettings ? recorded : null;
        int recordedIntra = use is null ? 1 : Math.Min(use.IntraOpNumThreads, Math.Max(1, Environment.ProcessorCount / Math.Max(1, ExpectedConcurrentCallers)));
        var intra = _intraOpNumThreads ?? (use is null ? 1 : recordedIntra);
        return new EffectiveSessionSettings(
            intra,
            _interOpNumThreads ?? use?.InterOpNumThreads ?? 1,
            _graphOptimizationLevel ?? use?.GraphOptimizationLevel ?? GraphOptimizationLevel.ORT_ENABLE_ALL,
            _executionMode ?? use?.ExecutionMode ?? ExecutionMode.ORT_SEQUENTIAL,
            use?.Source)
        {
            // Only threading that came from the recording falls back; threads or a mode the app sets are used as set.
            OneThreadForOverlappingCalls = OneThreadForOverlappingCalls && use is not null
                && _intraOpNumThreads is null && _interOpNumThreads is null && _executionMode is null
                && (intra > 1 || (use.ExecutionMode == ExecutionMode.ORT_PARALLEL && use.InterOpNumThreads > 1)),
        };
    }

    internal SessionOptions Create(string modelName, EffectiveSessionSettings settings)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = settings.IntraOpNumThreads,
            InterOpNumThreads = settings.InterOpNumThreads,
            GraphOptimizationLevel = settings.GraphOptimizationLevel,
            ExecutionMode = settings.ExecutionMode,
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

/// <summary>
/// The settings a model's current session was created with (before <see cref="OnnxSessionOptions.Configure"/>), and the
/// sidecar file that supplied the ones the app did not set (null when none was used).
/// </summary>
public sealed record EffectiveSessionSettings(
    int IntraOpNumThreads,
    int InterOpNumThreads,
    GraphOptimizationLevel GraphOptimizationLevel,
    ExecutionMode ExecutionMode,
    string? RecordedSettingsFile)
{
    /// <summary>
    /// True when a call that overlaps another runs on a second session with one thread (1 intra-op, 1 inter-op,
    /// sequential; see <see cref="OnnxSessionOptions.OneThreadForOverlappingCalls"/>); false: every call on one session.
    /// </summary>
    public bool OneThreadForOverlappingCalls { get; init; }

    /// <summary>The settings of the session that serves overlapping calls.</summary>
    public EffectiveSessionSettings ForOverlappingCalls() => OneThreadForOverlappingCalls
        ? this with { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL, OneThreadForOverlappingCalls = false }
        : this;
}
