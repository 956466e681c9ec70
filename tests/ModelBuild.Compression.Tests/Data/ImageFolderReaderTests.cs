using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Onnx.Diagnostics;
using SkiaSharp;

namespace ModelBuild.Compression.Tests.Data;

public class ImageFolderReaderTests
{
    static readonly string Mnist8 = TestMaterials.Model("mnist-8");
    static readonly string MnistCnn = TestMaterials.Model("mnist-cnn-pytorch");
    static readonly string Cifar = TestMaterials.Model("cifar10-cnn-pytorch");

    static readonly Lazy<(string Folder, int[] Order)> Mnist200 = new(() => DataTestFiles.MnistPngFolder(200));

    [Fact]
    public void Mnist_png_folder_round_trips_to_the_idx_tensor_with_class_labels()
    {
        var (folder, order) = Mnist200.Value;
        var data = DataSource.Read(folder, new DataReadOptions { ModelPath = Mnist8, PixelScale = PixelScale.Byte });
        var (images, labels) = TestMaterials.Mnist(0, 200, b => b);
        Assert.Equal([200L, 1, 28, 28], data.Inputs.Single().Shape);
        Assert.Equal(folder, data.LabelSource);
        for (var s = 0; s < 200; s++)
        {
            var i = order[s];
            Assert.Equal(labels[i], data.Labels![s]);
            Assert.True(images.AsSpan(i * 784, 784).SequenceEqual(data.Inputs.Single().Floats.AsSpan(s * 784, 784)), $"sample {s} (IDX image {i}) differs");
        }
    }

    [Fact]
    public void Mnist8_on_the_png_folder_scores_what_materials_md_states()
    {
        var data = DataSource.Read(Mnist200.Value.Folder, new DataReadOptions { ModelPath = Mnist8, PixelScale = PixelScale.Byte });
        var evaluator = new ModelEvaluator(data.Inputs, data.LabelTensor, latencyRuns: 0);
        evaluator.SetReference(Mnist8);
        Assert.Equal(99.5, evaluator.Evaluate(Mnist8).Accuracy!.Value, 6);
    }

    [Fact]
    public void Mnist_cnn_pytorch_on_the_png_folder_with_mean_std_normalization_scores_99()
    {
        var options = new DataReadOptions { ModelPath = MnistCnn, ImageMean = [0.1307f], ImageStd = [0.3081f] };
        var data = DataSource.Read(Mnist200.Value.Folder, options);
        // The normalization is applied: a background pixel (0) becomes -mean/std.
        Assert.Equal(-0.1307f / 0.3081f, data.Inputs.Single().Floats![0], 5);
        var evaluator = new ModelEvaluator(data.Inputs, data.LabelTensor, latencyRuns: 0);
        evaluator.SetReference(MnistCnn);
        Assert.Equal(99.0, evaluator.Evaluate(MnistCnn).Accuracy!.Value, 6);
    }

    [Fact]
    public void Rgb_images_are_resized_bilinearly_to_the_model_input_in_nchw_order()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "rgb");
        Directory.CreateDirectory(Path.Combine(folder, "a"));
        Directory.CreateDirectory(Path.Combine(folder, "b"));
        // 16x16, left half black, right half white: upsampled 2x to cifar's 32x32.
        DataTestFiles.WriteRgb(Path.Combine(folder, "a", "halves.png"), 16, 16, SKColors.Black, SKColors.White);
        DataTestFiles.WriteRgb(Path.Combine(folder, "b", "red.png"), 32, 32, new SKColor(255, 0, 0));
        var data = DataSource.Read(folder, new DataReadOptions { ModelPath = Cifar });
        Assert.Equal([2L, 3, 32, 32], data.Inputs.Single().Shape);
        Assert.Equal([0L, 1], data.Labels!);
        var x = data.Inputs.Single().Floats!;
        float At(int sample, int c, int y, int col) => x[((sample * 3 + c) * 32 + y) * 32 + col];
        // Half-pixel centres (align_corners=False, as torch's bilinear): output 15 samples source 7.25, output 16 source 7.75.
        for (var c = 0; c < 3; c++)
        {
            Assert.Equal(0f, At(0, c, 5, 0));
            Assert.Equal(0f, At(0, c, 5, 13));
            Assert.Equal(0.25f, At(0, c, 5, 15), 1f / 255);
            Assert.Equal(0.75f, At(0, c, 5, 16), 1f / 255);
            Assert.Equal(1f, At(0, c, 5, 18));
            Assert.Equal(1f, At(0, c, 5, 31));
        }
        Assert.Equal(1f, At(1, 0, 7, 7));
        Assert.Equal(0f, At(1, 1, 7, 7));
        Assert.Equal(0f, At(1, 2, 7, 7));
    }

    [Fact]
    public void Color_images_for_a_one_channel_model_become_luma_as_pil_converts_them()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "luma");
        Directory.CreateDirectory(folder);
        DataTestFiles.WriteRgb(Path.Combine(folder, "red.png"), 28, 28, new SKColor(255, 0, 0));
        DataTestFiles.WriteRgb(Path.Combine(folder, "teal.png"), 28, 28, new SKColor(0, 128, 128));
        var data = DataSource.Read(folder, new DataReadOptions { ModelPath = Mnist8, PixelScale = PixelScale.Byte });
        Assert.Null(data.Labels); // images directly in the folder: unlabeled
        Assert.Equal(76f, data.Inputs.Single().Floats![0]);          // PIL: 255 * 299/1000 = 76.245 -> 76
        Assert.Equal(90f, data.Inputs.Single().Floats![784 + 100]);  // 128 * 587/1000 + 128 * 114/1000 = 89.7 -> 90
    }

    [Fact]
    public void Jpeg_and_bmp_decode_as_well_as_png()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "formats");
        Directory.CreateDirectory(folder);
        using (var bitmap = new SKBitmap(new SKImageInfo(32, 32, SKColorType.Rgba8888, SKAlphaType.Unpremul)))
        {
            bitmap.Erase(new SKColor(200, 100, 50));
            using var jpeg = bitmap.Encode(SKEncodedImageFormat.Jpeg, 95);
            File.WriteAllBytes(Path.Combine(folder, "a.jpg"), jpeg.ToArray());
        }
        File.WriteAllBytes(Path.Combine(folder, "b.bmp"), Bmp24(32, 32, 10, 20, 30));
        var data = DataSource.Read(folder, new DataReadOptions { ModelPath = Cifar, PixelScale = PixelScale.Byte });
        Assert.Equal([2L, 3, 32, 32], data.Inputs.Single().Shape);
        float At(int sample, int c) => data.Inputs.Single().Floats![(sample * 3 + c) * 1024 + 16 * 32 + 16];
        // JPEG is lossy (chroma subsampling, rounding): a flat colour comes back within a few levels.
        Assert.Equal(200f, At(0, 0), 3f);
        Assert.Equal(100f, At(0, 1), 3f);
        Assert.Equal(50f, At(0, 2), 3f);
        Assert.Equal([10f, 20f, 30f], new[] { At(1, 0), At(1, 1), At(1, 2) });
    }

    /// <summary>An uncompressed 24-bit BMP of one colour (rows bottom-up, BGR, padded to 4 bytes).</summary>
    static byte[] Bmp24(int width, int height, byte r, byte g, byte b)
    {
        var rowBytes = (width * 3 + 3) & ~3;
        var image = new byte[54 + rowBytes * height];
        void U32(int at, int v) => BitConverter.GetBytes(v).CopyTo(image, at);
        image[0] = (byte)'B'; image[1] = (byte)'M';
        U32(2, image.Length); U32(10, 54); U32(14, 40); U32(18, width); U32(22, height);
        image[26] = 1; image[28] = 24; U32(34, rowBytes * height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                (image[54 + y * rowBytes + 3 * x], image[55 + y * rowBytes + 3 * x], image[56 + y * rowBytes + 3 * x]) = (b, g, r);
        return image;
    }

    [Fact]
    public void MB0115_an_empty_class_folder_is_refused()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "empty-class");
        Directory.CreateDirectory(Path.Combine(folder, "cat"));
        Directory.CreateDirectory(Path.Combine(folder, "dog"));
        DataTestFiles.WriteRgb(Path.Combine(folder, "cat", "1.png"), 28, 28, SKColors.Gray);
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(folder, new DataReadOptions { ModelPath = Mnist8 }));
        Assert.Equal("MB0115", e.Code);
        Assert.Contains("'dog'", e.Cause);
    }

    [Fact]
    public void MB0116_an_undecodable_image_is_named()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "broken");
        Directory.CreateDirectory(Path.Combine(folder, "0"));
        DataTestFiles.WriteRgb(Path.Combine(folder, "0", "good.png"), 28, 28, SKColors.Gray);
        var bad = Path.Combine(folder, "0", "bad.png");
        File.WriteAllText(bad, "this is not a PNG");
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(folder, new DataReadOptions { ModelPath = Mnist8 }));
        Assert.Equal("MB0116", e.Code);
        Assert.Equal(bad, e.File);
        Assert.Contains(bad, e.Cause);
    }

    [Fact]
    public void MB0116_a_truncated_png_is_refused()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "truncated");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "cut.png");
        DataTestFiles.WriteRgb(path, 28, 28, SKColors.Gray, SKColors.White);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        Assert.Equal("MB0116", Assert.Throws<ModelBuildException>(() => DataSource.Read(folder, new DataReadOptions { ModelPath = Mnist8 })).Code);
    }

    [Fact]
    public void MB0117_images_beside_class_folders_are_refused()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "mixed");
        Directory.CreateDirectory(Path.Combine(folder, "0"));
        DataTestFiles.WriteRgb(Path.Combine(folder, "0", "a.png"), 28, 28, SKColors.Gray);
        DataTestFiles.WriteRgb(Path.Combine(folder, "stray.png"), 28, 28, SKColors.Gray);
        Assert.Equal("MB0117", Assert.Throws<ModelBuildException>(() => DataSource.Read(folder, new DataReadOptions { ModelPath = Mnist8 })).Code);
    }

    [Fact]
    public void MB0118_an_image_folder_for_a_tabular_model_is_refused()
    {
        var (folder, _) = Mnist200.Value;
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(folder, new DataReadOptions { ModelPath = Path.Combine(TestMaterials.Teacher("wine-mlp"), "teacher.onnx") }));
        Assert.Equal("MB0118", e.Code);
        Assert.Contains("[?,13]", e.Cause.Replace("N", "?"));
    }

    [Fact]
    public void MB0124_images_of_different_sizes_for_a_model_without_fixed_height_and_width()
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "sizes");
        Directory.CreateDirectory(folder);
        DataTestFiles.WriteRgb(Path.Combine(folder, "a.png"), 20, 10, SKColors.Gray);
        DataTestFiles.WriteRgb(Path.Combine(folder, "b.png"), 10, 20, SKColors.Gray);
        var dynamicModel = new ModelInputSignature("x", [-1, 3, -1, -1], true);
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(folder, new DataReadOptions { Input = dynamicModel }));
        Assert.Equal("MB0124", e.Code);
        Assert.Contains("20x10", e.Cause);
        Assert.Contains("10x20", e.Cause);
        // One size: taken as it is.
        File.Delete(Path.Combine(folder, "b.png"));
        Assert.Equal([1L, 3, 10, 20], DataSource.Read(folder, new DataReadOptions { Input = dynamicModel }).Inputs.Single().Shape);
    }

    [Fact]
    public void MB0114_labels_file_with_class_folders_is_refused()
    {
        var dir = TestMaterials.TempDir();
        var labels = TestMaterials.SaveNpy(dir, "y.npy", new long[200], 200);
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(Mnist200.Value.Folder, new DataReadOptions { ModelPath = Mnist8 }, labels));
        Assert.Equal("MB0114", e.Code);
    }

    [Fact]
    public void MB0123_a_mean_with_the_wrong_number_of_channels_is_refused()
    {
        var e = Assert.Throws<ModelBuildException>(() => DataSource.Read(Mnist200.Value.Folder, new DataReadOptions { ModelPath = Mnist8, ImageMean = [0.4f, 0.5f, 0.6f] }));
        Assert.Equal("MB0123", e.Code);
        Assert.Equal("MB0123", Assert.Throws<ModelBuildException>(() => DataReadOptions.ParseScale("0..65535")).Code);
    }
}
