namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// Tests that use TorchSharp (training, the importer's forward pass, Taylor importance, pruning recovery) run one at a
/// time: a distillation run sets process-wide torch state (torch.set_num_threads, the global generator seed), and
/// concurrent runs in one process were seen to fail with a c10 Scalar-conversion error (inside AdamW.step, and once
/// in an importer forward pass running beside a training test). The worker distills one model per process, so sequential
/// runs are also the realistic setting.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchTrainingCollection
{
    public const string Name = "TorchSharp training";
}
