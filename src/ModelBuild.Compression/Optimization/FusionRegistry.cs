namespace ModelBuild.Compression.Optimization;

/// <summary>
/// The fusions the optimize stage tries, in order: normalizations first (so that residual Adds meet a
/// LayerNormalization), then GELU (so that its bias can fold), then attention and the fold of a one-head attention's
/// output projection, then the sequence trim (which needs the fused Attention's mask to prove the padded positions are
/// never read), then mean pooling as a MatMul (after the trim, whose proof reads the ReduceSum form), then x != 0 as
/// one Cast (last: the trim and the pooling read the mask as exported). Each one is verified on its own.
/// </summary>
public static class FusionRegistry
{
    /// <summary>Every fusion (<c>--optimize all</c>).</summary>
    public static IReadOnlyList<IGraphFusion> All() =>
    [
        new LayerNormFusion(),
        new EmbedLayerNormFusion(),
        new SkipLayerNormFusion(),
        new GeluFusion(),
        new FastGeluFusion(),
        new BiasGeluFusion(),
        new AttentionFusion(),
        new AttentionOutputFold(),
        new SequenceTrimFusion(),
        new MeanPoolingMatMul(),
        new NotEqualZeroAsCast(),
    ];

    /// <summary>
    /// The fusions that pay on ONNX Runtime's CPU provider (<c>--optimize auto</c>). SkipLayerNormalization and
    /// EmbedLayerNormalization are left out: with one thread their kernels took longer than the LayerNormalization +
    /// Add and Gather + Add they replace (about 13% each on the intent-bert teacher at batch 32, benchmarks/RESULTS.md
    /// "Graph optimization"), and EmbedLayerNormalization would also hide the embedding table from the quantizer's
    /// Gather forms. SequenceTrim is in: it is exact (proven from structure, verified like every rewrite) and computes
    /// only the positions that hold tokens, which was 1.6-1.9x at batch 1 on the transformer teachers and students.
    /// </summary>
    public static IReadOnlyList<IGraphFusion> Auto() => All().Where(f => f is not (SkipLayerNormFusion or EmbedLayerNormFusion)).ToList();

    /// <summary>The fusions for an <c>--optimize</c> word: auto (or unset) and all.</summary>
    public static IReadOnlyList<IGraphFusion> For(string? optimize) =>
        optimize?.Trim().Equals("all", StringComparison.OrdinalIgnoreCase) == true ? All() : Auto();
}
