using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>Turns data read by <see cref="DataSource"/> into the tensors the trainer takes.</summary>
internal static class DistillationData
{
    /// <summary>Inputs as the data holds them: float32, or int64 (token ids).</summary>
    public static Tensor ToInputTensor(DataTensor d) => d.IsFloat ? torch.tensor(d.Floats!, d.Shape) : torch.tensor(d.Int64s!, d.Shape);

    public static Tensor ToLabelTensor(long[] labels) => torch.tensor(labels, new long[] { labels.Length });
}
