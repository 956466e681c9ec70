namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// Tests that use TorchSharp (training, the importer's forward pass, Taylor importance, pruning recovery) run one at a
/// time: a distillation run sets process-wide torch state (torch.set_num_threads, the global generator seed). (The
/// c10 Scalar-conversion errors once seen with concurrent runs were TorchSharp Scalars freed by the finalizer during
/// a native call, which more threads made likelier: see KeptScalar and ScalarGcStormTests.) The worker distills one
/// model per process, so sequential runs are also the realistic setting.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchTrainingCollection
{
    public const string Name = "TorchSharp training";
}
