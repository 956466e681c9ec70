// Regenerates Data/*.npy from the MNIST test set in ../shared/datasets/mnist-t10k (a .NET 10 file-based app):
//   dotnet run samples/DigitsWeb/tools/make-data.cs            (from the repository root)
// test_x.npy/test_y.npy: the first 500 t10k images and labels; calib_x.npy: the last 256 images (disjoint from the
// test images). Pixels stay raw 0..255 as float32 [N,1,28,28] because mnist-8 expects them so; labels are int64 [N].
// The output is a pure function of the IDX files, so a rerun reproduces the committed files byte for byte.
using System.IO.Compression;
using System.Text;

const int TestCount = 500, CalibrationCount = 256, Side = 28;
var sample = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(ScriptPath())!, ".."));
var root = Path.GetFullPath(Path.Combine(sample, "..", ".."));
var mnist = Path.Combine(root, "..", "shared", "datasets", "mnist-t10k");

var images = ReadIdx(Path.Combine(mnist, "t10k-images-idx3-ubyte.gz"), 0x803);
var labels = ReadIdx(Path.Combine(mnist, "t10k-labels-idx1-ubyte.gz"), 0x801);
var total = labels.Length;
const int pixels = Side * Side;

WriteNpy(Path.Combine(sample, "Data", "test_x.npy"), "<f4", [TestCount, 1, Side, Side], Floats(images, 0, TestCount));
WriteNpy(Path.Combine(sample, "Data", "test_y.npy"), "<i8", [TestCount], Longs(labels, 0, TestCount));
WriteNpy(Path.Combine(sample, "Data", "calib_x.npy"), "<f4", [CalibrationCount, 1, Side, Side], Floats(images, total - CalibrationCount, CalibrationCount));
Console.WriteLine($"wrote {TestCount} test images/labels and {CalibrationCount} calibration images to {Path.Combine(sample, "Data")}");

static string ScriptPath([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;

// IDX: big-endian magic (0x0803 images, 0x0801 labels), one big-endian int32 per dimension, then uint8 data.
static byte[] ReadIdx(string path, int expectedMagic)
{
    using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
    using var buffer = new MemoryStream();
    gzip.CopyTo(buffer);
    var bytes = buffer.ToArray();
    var magic = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes);
    if (magic != expectedMagic) throw new InvalidDataException($"{path}: magic 0x{magic:x}, expected 0x{expectedMagic:x}");
    var headerLength = 4 + 4 * (magic & 0xff);
    return bytes[headerLength..];
}

static byte[] Floats(byte[] images, int first, int count)
{
    var data = new byte[count * pixels * 4];
    for (var i = 0; i < count * pixels; i++) BitConverter.TryWriteBytes(data.AsSpan(i * 4), (float)images[first * pixels + i]);
    return data;
}

static byte[] Longs(byte[] labels, int first, int count)
{
    var data = new byte[count * 8];
    for (var i = 0; i < count; i++) BitConverter.TryWriteBytes(data.AsSpan(i * 8), (long)labels[first + i]);
    return data;
}

// .npy version 1.0, little-endian, C order; the header is padded with spaces to a multiple of 64 bytes as NumPy does.
static void WriteNpy(string path, string dtype, int[] shape, byte[] payload)
{
    var shapeText = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
    var header = $"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shapeText}, }}";
    var padded = header.PadRight((10 + header.Length + 1 + 63) / 64 * 64 - 10 - 1) + "\n";
    var temp = path + ".tmp";
    using (var file = File.Create(temp))
    {
        file.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        file.Write(BitConverter.GetBytes((ushort)padded.Length));
        file.Write(Encoding.ASCII.GetBytes(padded));
        file.Write(payload);
    }
    File.Move(temp, path, overwrite: true);
}
