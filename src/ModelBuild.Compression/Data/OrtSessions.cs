using Microsoft.ML.OnnxRuntime;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Data;

/// <summary>
/// Opens ONNX Runtime sessions over a model file the one way the engine does (MB0507 when ORT cannot load it) and finds
/// the axis each input's samples run along. Here, below Evaluation, because the data readers learn a model's inputs
/// from a session too (<see cref="ModelInputSignature"/>, <see cref="SyntheticSample"/>); Evaluation's ModelRunner runs
/// the sessions it opens through <see cref="Open"/>.
/// </summary>
public static class OrtSessions
{
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

    /// <summary>A session over <paramref name="modelPath"/>; MB0507 when ONNX Runtime cannot load the model.</summary>
    public static InferenceSession Open(string modelPath, SessionOptions options) => Open(() => new InferenceSession(modelPath, options), modelPath);

    /// <summary>A session over a model in memory; <paramref name="displayName"/> names it in MB0507.</summary>
    public static InferenceSession Open(byte[] model, string displayName, SessionOptions options) => Open(() => new InferenceSession(model, options), displayName);

    static InferenceSession Open(Func<InferenceSession> open, string displayName)
    {
        try { return open(); }
        catch (OnnxRuntimeException e)
        {
            throw new ModelBuildException("MB0507", $"ONNX Runtime cannot load '{displayName}': {FirstLine(e.Message)}", "Check that the model is valid ONNX (onnx.checker) and uses operators ONNX Runtime 1.32 supports.", displayName, e);
        }
    }

    /// <summary>A session that only tells the model's inputs (one thread, no graph optimization: nothing runs).</summary>
    public static InferenceSession OpenForInputs(string modelPath)
    {
        using var options = CreateOptions(1, GraphOptimizationLevel.ORT_DISABLE_ALL);
        return Open(modelPath, options);
    }

    /// <summary>
    /// The batch axis of every input: the symbolic name of the first input's axis 0 (e.g. <c>batch_size</c>) marks the
    /// batch wherever it appears (GPT-2's <c>past_*</c> are <c>[2, batch_size, heads, past, head]</c>); 0 otherwise.
    /// </summary>
    public static Dictionary<string, int> SampleAxes(IReadOnlyDictionary<string, NodeMetadata> inputs)
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

    /// <summary>The first line of an ONNX Runtime message (the rest is its stack of C++ frames).</summary>
    public static string FirstLine(string text) => text.Split('\n')[0].Trim();
}
