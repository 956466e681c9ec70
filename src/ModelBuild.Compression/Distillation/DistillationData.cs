using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>Turns data read by <see cref="DataSource"/> into the tensors the trainer takes.</summary>
internal static class DistillationData
{
    /// <summary>A .npy array or <c>file.npz:name</c> member (reading goes through <see cref="NpyDataReader"/>).</summary>
    public static NpyArray ReadArray(string spec) => NpyDataReader.ReadArray(spec);

    /// <summary>Inputs keep integer types as int64 (token ids) and turn every float type into float32.</summary>
    public static Tensor ToInputTensor(NpyArray a) => a.Data switch
    {
        long[] l => torch.tensor(l, a.Shape),
        int[] i => torch.tensor(i.Select(v => (long)v).ToArray(), a.Shape),
        _ => torch.tensor(a.ToSingleArray(), a.Shape),
    };

    public static Tensor ToInputTensor(DataTensor d) => d.IsFloat ? torch.tensor(d.Floats!, d.Shape) : torch.tensor(d.Int64s!, d.Shape);

    public static Tensor ToLabelTensor(NpyArray a) => torch.tensor(a.ToInt64Array(), new[] { a.Rows });

    public static Tensor ToLabelTensor(long[] labels) => torch.tensor(labels, new long[] { labels.Length });
}
