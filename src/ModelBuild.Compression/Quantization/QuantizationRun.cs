using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.StageContract;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// What building and judging every candidate form of one quantize stage shares: the prepared graph, the evaluator and
/// the float model's result it compares against, the accuracy gate, the data the repair measures SQNR on, the stage's
/// context, whether weights get per-channel scales, and the calibrated ranges once a form has needed them.
/// </summary>
internal sealed record QuantizationRun(ModelProto Prepared, ModelEvaluator Evaluator, EvaluationResult FloatResult, AccuracyGate Gate,
    Data.InputSet? SqnrData, CompressionContext Context, bool PerChannel)
{
    /// <summary>Calibrated activation ranges, computed once by the first form that needs them and shared by the rest.</summary>
    public Dictionary<string, (float, float)>? Ranges { get; set; }
}
