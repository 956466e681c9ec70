namespace ModelBuild.Compression.Optimization;

/// <summary>
/// The fusions the optimize stage tries, in order: normalizations first (so that residual Adds meet a
/// LayerNormalization), then GELU (so that its bias can fold), then attention. Each one is verified on its own.
/// </summary>
public static class FusionRegistry
{
    public static IReadOnlyList<IGraphFusion> All() =>
    [
        new LayerNormFusion(),
        new EmbedLayerNormFusion(),
        new SkipLayerNormFusion(),
        new GeluFusion(),
        new FastGeluFusion(),
        new BiasGeluFusion(),
        new AttentionFusion(),
    ];
}
