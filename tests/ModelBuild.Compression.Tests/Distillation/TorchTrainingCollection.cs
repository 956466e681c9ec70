namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// Tests that train with TorchSharp run one at a time: a distillation run sets process-wide torch state
/// (torch.set_num_threads, the global generator seed), and concurrent optimizer runs in one process were seen to fail
/// with a c10 Scalar-conversion error inside AdamW.step. The worker distills one model per process, so sequential
/// runs are also the realistic setting.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchTrainingCollection
{
    public const string Name = "TorchSharp training";
}
