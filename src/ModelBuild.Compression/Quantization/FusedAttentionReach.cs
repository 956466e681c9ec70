using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Which quantization a recipe asks for that cannot reach the packed QKV weights of ONNX Runtime's fused
/// <c>Attention</c> (only its int8 <c>QAttention</c> form exists, which the dynamic and static int8 forms both write): int4
/// (<c>MatMulNBits</c> needs the separate projections), and auto with <c>--prefer size</c>, whose smallest candidate is int4. The optimize stage
/// leaves attention unfused for them, so that those weights are quantized instead of kept float.
/// </summary>
public static class FusedAttentionReach
{
    /// <summary>The form (or "auto --prefer size") that would leave fused attention weights float, or null.</summary>
    public static string? UnreachedBy(CompressionRecipe recipe)
    {
        var word = QuantizationForms.Parse(recipe.Quantize);
        if (word is Int4WeightQuantizer.FormName) return word;
        return word == QuantizationForms.Auto && QuantizeStage.PreferSize(recipe) ? "auto --prefer size (int4-weight)" : null;
    }
}
