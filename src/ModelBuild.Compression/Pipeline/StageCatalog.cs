using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Optimization;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Quantization;
using ModelBuild.Compression.StageContract;

namespace ModelBuild.Compression.Pipeline;

/// <summary>The stages the pipeline runs, one line each (the pipeline orders them by <see cref="ICompressionStage.Order"/>).</summary>
public static class StageCatalog
{
    public static IEnumerable<ICompressionStage> All()
    {
        yield return new DistillStage();
        yield return new PruneStage();
        yield return new OptimizeStage();
        yield return new QuantizeStage();
    }
}
