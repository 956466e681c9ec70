using ModelBuild.Compression.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>Reads distillation inputs and labels (.npy, or <c>file.npz:name</c>) into tensors.</summary>
internal static class DistillationData
{
    public static NpyArray ReadArray(string spec)
    {
        int colon = spec.LastIndexOf(':');
        if (colon > 1 && spec[..colon].EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
            return NpzArchive.Read(spec[..colon], spec[(colon + 1)..]);
        return spec.EndsWith(".npz", StringComparison.OrdinalIgnoreCase) ? NpzArchive.Read(spec).Values.First() : NpyArray.Read(spec);
    }

    /// <summary>Inputs keep integer types as int64 (token ids) and turn every float type into float32.</summary>
    public static Tensor ToInputTensor(NpyArray a) => a.Data switch
    {
        long[] l => torch.tensor(l, a.Shape),
        int[] i => torch.tensor(i.Select(v => (long)v).ToArray(), a.Shape),
        _ => torch.tensor(a.ToSingleArray(), a.Shape),
    };

    public static Tensor ToLabelTensor(NpyArray a) => torch.tensor(a.ToInt64Array(), new[] { a.Rows });
}
