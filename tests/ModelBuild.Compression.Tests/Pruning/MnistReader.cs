using System.IO.Compression;
using ModelBuild.Compression.Data;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>Reads the gzipped IDX files of ../shared/datasets/mnist-t10k, normalized as the PyTorch MNIST example (mean 0.1307, std 0.3081).</summary>
internal static class MnistReader
{
    public static (NpyArray X, NpyArray Y) Load(string folder)
    {
        byte[] images = Gunzip(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"));
        byte[] labels = Gunzip(Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"));
        int count = BigEndian(labels, 4);
        int rows = BigEndian(images, 8), cols = BigEndian(images, 12);
        var x = new float[count * rows * cols];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (images[16 + i] / 255f - 0.1307f) / 0.3081f;
        }
        var y = new long[count];
        for (int i = 0; i < count; i++)
        {
            y[i] = labels[8 + i];
        }
        return (NpyArray.Create(x, count, 1, rows, cols), NpyArray.Create(y, count));
    }

    public static NpyArray Rows(NpyArray a, int start, int count)
    {
        long row = a.RowLength;
        long[] shape = a.Shape.ToArray();
        shape[0] = count;
        return a.Data switch
        {
            float[] f => NpyArray.Create(f.AsSpan((int)(start * row), (int)(count * row)).ToArray(), shape),
            long[] l => NpyArray.Create(l.AsSpan((int)(start * row), (int)(count * row)).ToArray(), shape),
            _ => throw new NotSupportedException(a.ToString()),
        };
    }

    /// <summary>Samples [start, start+count) of a data set.</summary>
    public static DataTensor Rows(DataTensor a, int start, int count) => new NamedTensor(null, a).Slice(start, count);

    private static int BigEndian(byte[] b, int at) => (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3];

    private static byte[] Gunzip(string path)
    {
        using var file = File.OpenRead(path);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gz.CopyTo(memory);
        return memory.ToArray();
    }
}
