using ModelBuild.Compression.Evaluation;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Automatic repair when a quantized model fails the accuracy gate: rank the quantized layers by their output SQNR
/// against the float model, keep the least faithful one in float, re-quantize, re-measure, and repeat until the
/// gate holds (or nothing is left to try). Re-ranking after each step matters: keeping one layer in float changes
/// the error every later layer sees.
/// </summary>
public sealed class SensitivityRepair
{
    public int MaxLayersKeptFloat { get; init; } = 32;

    public sealed record Result(QuantizedModel Model, EvaluationResult Evaluation, List<string> KeptFloat, List<(string Node, string OpType, double Db)> LayerSqnr, string? Failure);

    public Result Run(
        ModelProto floatModel,
        Func<IReadOnlySet<string>, QuantizedModel> build,
        Func<QuantizedModel, EvaluationResult> evaluate,
        EvaluationResult floatEvaluation,
        AccuracyGate gate,
        Data.InputSet sqnrData,
        int threads,
        Action<string>? progress = null)
    {
        var kept = new List<string>();
        var model = build(new HashSet<string>());
        var evaluation = evaluate(model);
        var sqnr = LayerSqnr.Measure(floatModel, model.Model, model.QuantizedNodes, sqnrData, threads);
        var failure = gate.Check(floatEvaluation, evaluation);
        while (failure is not null && kept.Count < MaxLayersKeptFloat)
        {
            var candidates = sqnr.Where(s => !kept.Contains(s.Node)).OrderBy(s => s.Db).ThenBy(s => s.Node, StringComparer.Ordinal).ToList();
            if (candidates.Count == 0) break;
            kept.Add(candidates[0].Node);
            progress?.Invoke($"repair: {failure}; keeping {candidates[0].Node} ({candidates[0].OpType}, {candidates[0].Db:0.0} dB) in float");
            model = build(kept.ToHashSet(StringComparer.Ordinal));
            if (model.QuantizedNodes.Count == 0) { failure = "every layer had to stay float"; break; }
            evaluation = evaluate(model);
            failure = gate.Check(floatEvaluation, evaluation);
            var rest = LayerSqnr.Measure(floatModel, model.Model, model.QuantizedNodes, sqnrData, threads);
            sqnr = rest.Concat(sqnr.Where(s => kept.Contains(s.Node))).ToList();
        }
        return new Result(model, evaluation, kept, sqnr, failure);
    }
}
