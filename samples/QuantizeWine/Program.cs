using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

// Runs the model the build compressed (bin/.../models/wine.onnx) on the wine test split and prints its accuracy.
var baseDirectory = AppContext.BaseDirectory;
var modelPath = Path.Combine(baseDirectory, "models", "wine.onnx");
var (features, shape) = Npy.ReadFloat32(Path.Combine(baseDirectory, "Data", "test_x.npy"));
var labels = Npy.ReadInt64(Path.Combine(baseDirectory, "Data", "test_y.npy"));

using var session = new InferenceSession(modelPath);
var inputName = session.InputMetadata.Keys.First();
var rows = shape[0];
var width = shape[1];
var correct = 0;
for (var row = 0; row < rows; row++)
{
    var input = new DenseTensor<float>(features.AsMemory(row * width, width), [1, width]);
    using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, input)]);
    var scores = results.First().AsEnumerable<float>().ToArray();
    var predicted = Array.IndexOf(scores, scores.Max());
    if (predicted == labels[row]) correct++;
}
Console.WriteLine($"{Path.GetFileName(modelPath)}: {new FileInfo(modelPath).Length:N0} bytes, accuracy {100.0 * correct / rows:0.00}% on {rows} test samples");

/// <summary>Just enough of NumPy's .npy format for this sample: little-endian, C order, float32 or int64.</summary>
internal static class Npy
{
    public static (float[] Data, int[] Shape) ReadFloat32(string path)
    {
        var (payload, shape) = Read(path, "<f4");
        var data = new float[payload.Length / 4];
        Buffer.BlockCopy(payload, 0, data, 0, payload.Length);
        return (data, shape);
    }

    public static long[] ReadInt64(string path)
    {
        var (payload, _) = Read(path, "<i8");
        var data = new long[payload.Length / 8];
        Buffer.BlockCopy(payload, 0, data, 0, payload.Length);
        return data;
    }

    private static (byte[] Payload, int[] Shape) Read(string path, string dtype)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = bytes[6] == 1 ? BitConverter.ToUInt16(bytes, 8) : (int)BitConverter.ToUInt32(bytes, 8);
        var headerStart = bytes[6] == 1 ? 10 : 12;
        var header = System.Text.Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        if (!header.Contains($"'{dtype}'")) throw new InvalidDataException($"{path}: expected dtype {dtype}, header {header}");
        var shapeText = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..];
        var shape = shapeText[..shapeText.IndexOf(')')].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        return (bytes[(headerStart + headerLength)..], shape);
    }
}
