using System.IO.Compression;
using System.Text.Json.Nodes;
using SkiaSharp;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// Every data option reads every format: <c>eval --data</c> on an MNIST PNG class folder and on a CSV with a label
/// column, <c>compress</c> with image-folder calibration and evaluation, and the data-reading errors' exit code.
/// </summary>
public sealed class DataFormatCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mb-data-cli-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    static string Model(string name) => Path.Combine(TestPaths.Shared, "models", name, "model.onnx");

    /// <summary>The first <paramref name="count"/> MNIST t10k images as grayscale PNGs, one subfolder per digit.</summary>
    private string MnistPngFolder(int count)
    {
        var folder = Path.Combine(_dir, "mnist");
        var images = Gunzip(Path.Combine(TestPaths.Shared, "datasets", "mnist-t10k", "t10k-images-idx3-ubyte.gz"));
        var labels = Gunzip(Path.Combine(TestPaths.Shared, "datasets", "mnist-t10k", "t10k-labels-idx1-ubyte.gz"));
        for (var i = 0; i < count; i++)
        {
            var classFolder = Directory.CreateDirectory(Path.Combine(folder, labels[8 + i].ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
            using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque));
            System.Runtime.InteropServices.Marshal.Copy(images, 16 + i * 784, bitmap.GetPixels(), 784);
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(classFolder, $"{i:D5}.png"), png.ToArray());
        }
        return folder;
    }

    static byte[] Gunzip(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        return ms.ToArray();
    }

    [Fact]
    public void Eval_on_an_mnist_png_folder_gives_the_accuracies_materials_md_states()
    {
        var folder = MnistPngFolder(200);
        var mnist8 = CliProcess.Run("eval", Model("mnist-8"), "--data", folder, "--image-scale", "0..255", "--latency-runs", "0", "--json");
        Assert.True(mnist8.Exit == 0, mnist8.Stderr);
        var a = JsonNode.Parse(mnist8.Stdout)!;
        Assert.Equal(200, a["samples"]!.GetValue<int>());
        Assert.Equal(99.5, a["accuracy"]!.GetValue<double>(), 6);

        var cnn = CliProcess.Run("eval", Model("mnist-cnn-pytorch"), "--data", folder, "--image-mean", "0.1307", "--image-std", "0.3081", "--latency-runs", "0", "--json");
        Assert.True(cnn.Exit == 0, cnn.Stderr);
        Assert.Equal(99.0, JsonNode.Parse(cnn.Stdout)!["accuracy"]!.GetValue<double>(), 6);
    }

    [Fact]
    public void Eval_on_iris_csv_with_a_label_column_gives_98_percent()
    {
        var iris = Path.Combine(TestPaths.Shared, "datasets", "iris", "iris.data");
        var r = CliProcess.Run("eval", Model("iris-mlp-pytorch"), "--data", iris, "--label-column", "4", "--latency-runs", "0", "--json");
        Assert.True(r.Exit == 0, r.Stderr);
        Assert.Equal(98.0, JsonNode.Parse(r.Stdout)!["accuracy"]!.GetValue<double>(), 6);
    }

    [Fact]
    public void Compress_calibrates_and_evaluates_on_image_folders_with_labels_from_the_class_folders()
    {
        var folder = MnistPngFolder(200);
        var report = Path.Combine(_dir, "report.json");
        var r = CliProcess.Run("compress", Model("mnist-8"), "-o", Path.Combine(_dir, "mnist-int8.onnx"), "--quantize", "int8-static",
            "--calibration-data", folder, "--eval-data", folder, "--image-scale", "0..255", "--max-accuracy-drop", "2",
            "--latency-runs", "0", "--report", report);
        Assert.True(r.Exit == 0, r.Stdout + r.Stderr);
        var json = JsonNode.Parse(File.ReadAllText(report))!;
        Assert.Equal(99.5, json["teacher"]!["accuracy"]!.GetValue<double>(), 6);
        Assert.InRange(json["result"]!["accuracy"]!.GetValue<double>(), 97.5, 100);
    }

    [Fact]
    public void A_data_error_exits_2_with_its_code_and_the_file()
    {
        var csv = Path.Combine(TestPaths.Shared, "datasets", "taxi-fare", "taxi-fare-test.csv");
        var r = CliProcess.Run("eval", Model("iris-mlp-pytorch"), "--data", csv, "--latency-runs", "0");
        Assert.Equal(2, r.Exit);
        Assert.Contains("MB0111", r.Stderr + r.Stdout);
        Assert.Contains("line 2, column 1", r.Stderr + r.Stdout);

        var bad = CliProcess.Run("eval", Model("mnist-8"), "--data", _dir, "--image-mean", "1,2", "--latency-runs", "0");
        Assert.Equal(2, bad.Exit);
        Assert.Contains("MB0123", bad.Stderr + bad.Stdout);
    }
}
