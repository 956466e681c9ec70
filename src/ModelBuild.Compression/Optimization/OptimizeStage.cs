using System.Globalization;
using System.Text.Json.Nodes;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using ModelBuild.Compression.StageContract;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// The optimize stage (after pruning, before quantization): rewrites the graph into ONNX Runtime's fused operators
/// (<see cref="FusionRegistry"/>), verifying each rewrite on the evaluation data (else the calibration data, else
/// generated inputs) and keeping only those whose outputs stay within 1e-4. A model with nothing to fuse passes
/// through without a stage entry in the report.
/// </summary>
public sealed class OptimizeStage : ICompressionStage
{
    readonly IReadOnlyList<IGraphFusion>? _fusions;

    /// <param name="fusions">The fusions to try; null: the recipe's (<see cref="FusionRegistry.For"/>; tests pass their own).</param>
    public OptimizeStage(IReadOnlyList<IGraphFusion>? fusions = null) => _fusions = fusions;

    /// <summary>How many samples of the data a rewrite is verified on (enough to reach padded and unpadded rows).</summary>
    public const int VerificationSamples = 64;

    public string Name => "optimize";
    public int Order => 250;

    /// <summary>auto (or unset) and all run the stage; none skips it.</summary>
    public bool IsRequested(CompressionRecipe recipe) => !string.Equals(recipe.Optimize?.Trim(), "none", StringComparison.OrdinalIgnoreCase);

    public StageOutcome Run(CompressionContext context)
    {
        var input = context.CurrentModel;
        var (data, source) = VerificationData(context, input);
        var fusions = _fusions ?? FusionRegistry.For(context.Recipe.Optimize);
        // int4 has no form for ONNX Runtime's fused Attention (MatMulNBits needs the separate Q/K/V projections): its
        // packed QKV weights would stay float. The user asked for that form (or for size), so attention stays unfused
        // for it (the optimizer only counts its matches); auto, int8-dynamic and int8-static (QAttention) keep the fusion.
        var unreached = _fusions is null ? QuantizationForms.LeavingFusedAttentionFloat(context.Recipe.Quantize, context.Recipe.PrefersSize()) : null;
        var optimizer = new GraphOptimizer(fusions, countOnly: unreached is null ? null : f => f is AttentionFusion);
        var output = context.WorkPath("optimized.onnx");
        var result = optimizer.Optimize(input, data, output, context.WorkPath("optimize-candidates"), context.Log.Progress);
        // Said only when the model has attention the rewrite would have fused.
        var attentionNote = result.Counted.Any(f => f.Matches > 0)
            ? $"attention left unfused: {unreached} has no form of the fused Attention operator, whose weights would stay float"
            : null;
        if (result.Fusions.All(f => f.Matches == 0) && attentionNote is null)
            return new StageOutcome(input, NotApplicable: true);

        foreach (var dropped in result.Fusions.Where(f => f.Matches > 0 && !f.Kept))
            context.Log.Warning(FusionDropped,
                $"The {dropped.Name} rewrite of '{input}' ({dropped.Matches} match(es)) was dropped: {dropped.Note}; those nodes stay unfused.",
                "Nothing to do: the model runs as before there. Report it with the model if you expect it fused, or pass --optimize none to skip the stage.");
        if (source == GeneratedSource)
            context.Log.Warning(GeneratedVerification,
                $"The fused graph of '{input}' was verified on generated inputs only (no evaluation or calibration data): padding and attention masks were not exercised.",
                "Pass --eval-data (or --calibration-data) with representative inputs, including padded ones, so that every rewrite is checked on them.");
        var details = new JsonObject
        {
            ["mode"] = context.Recipe.Optimize?.Trim().ToLowerInvariant() ?? "auto",
            ["nodesBefore"] = result.NodesBefore,
            ["nodesAfter"] = result.NodesAfter,
            ["verifiedOn"] = string.Create(CultureInfo.InvariantCulture, $"{source} ({result.VerifiedSamples} samples), tolerance {FusionVerifier.DefaultTolerance:G3}"),
            ["fused"] = new JsonArray(result.Fusions.Where(f => f.Kept).Select(f => (JsonNode)new JsonObject
            {
                ["fusion"] = f.Name, ["operator"] = f.Operator, ["count"] = f.Matches, ["maxDifference"] = f.MaxDifference,
            }).ToArray()),
            ["notes"] = new JsonArray(attentionNote is null ? [] : [(JsonNode)attentionNote]),
            ["dropped"] = new JsonArray(result.Fusions.Where(f => f.Matches > 0 && !f.Kept).Select(f => (JsonNode)new JsonObject
            {
                ["fusion"] = f.Name, ["operator"] = f.Operator, ["count"] = f.Matches, ["reason"] = f.Note,
            }).ToArray()),
        };
        return new StageOutcome(result.OutputPath ?? input, details);
    }

    const string GeneratedSource = "generated inputs";

    static (InputSet Data, string Source) VerificationData(CompressionContext context, string model)
    {
        if (context.Evaluator.Data is { } evaluation) return (evaluation.Take(VerificationSamples), "evaluation data");
        if (context.Recipe.CalibrationData is { } calibration)
            return (DataSource.ReadInputSet(calibration, DataReadOptions.FromRecipe(context.Recipe, model)).Take(VerificationSamples), "calibration data");
        return (SyntheticSample.For(model, 8), GeneratedSource);
    }

    /// <summary>A fusion matched but its rewrite failed verification and was dropped (warning).</summary>
    public const string FusionDropped = "MB0230";
    /// <summary>Rewrites were verified on generated inputs only (warning).</summary>
    public const string GeneratedVerification = "MB0231";
}
