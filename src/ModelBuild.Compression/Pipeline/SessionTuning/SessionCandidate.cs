using System.Globalization;
using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Compression.Pipeline.SessionTuning;

/// <summary>One ONNX Runtime session setting the tuner can time: thread counts, graph optimization level, execution mode.</summary>
public sealed record SessionCandidate(int IntraOpThreads, int InterOpThreads, GraphOptimizationLevel Level, ExecutionMode Mode)
{
    /// <summary>What the runtime pool uses when nothing is recorded: one intra-op thread, all optimizations, sequential.</summary>
    public static readonly SessionCandidate PoolDefault = new(1, 1, GraphOptimizationLevel.ORT_ENABLE_ALL, ExecutionMode.ORT_SEQUENTIAL);

    /// <summary>The sidecar's (and the runtime's) name of a level: none, basic, extended, all.</summary>
    public string LevelName => Level switch
    {
        GraphOptimizationLevel.ORT_DISABLE_ALL => "none",
        GraphOptimizationLevel.ORT_ENABLE_BASIC => "basic",
        GraphOptimizationLevel.ORT_ENABLE_EXTENDED => "extended",
        _ => "all",
    };

    public string ModeName => Mode == ExecutionMode.ORT_PARALLEL ? "parallel" : "sequential";

    /// <summary>The session options the runtime pool would create for this candidate (ONNX Runtime's thread spinning left on, as the pool does).</summary>
    public SessionOptions CreateOptions() => new()
    {
        IntraOpNumThreads = IntraOpThreads,
        InterOpNumThreads = InterOpThreads,
        GraphOptimizationLevel = Level,
        ExecutionMode = Mode,
        LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
    };

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"intra-op {IntraOpThreads}, inter-op {InterOpThreads}, {LevelName}, {ModeName}");
}
