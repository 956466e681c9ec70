using SkiaSharp;

namespace ModelBuild.Compression.Tests.Data;

/// <summary>Writes the data files the reader tests read: MNIST as PNG class folders, small synthetic images.</summary>
internal static class DataTestFiles
{
    /// <summary>
    /// MNIST t10k images [0, count) as 8-bit grayscale PNGs, one subfolder per digit, named by their index in the IDX
    /// file (zero-padded, so ordinal order is index order). Returns the folder and, in the reader's sample order
    /// (class, then index), the IDX indexes.
    /// </summary>
    public static (string Folder, int[] Order) MnistPngFolder(int count)
    {
        var folder = Path.Combine(TestMaterials.TempDir(), "mnist-png");
        var (images, labels) = TestMaterials.Mnist(0, count, b => b);
        for (var i = 0; i < count; i++)
        {
            var classFolder = Path.Combine(folder, labels[i].ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(classFolder);
            var pixels = new byte[784];
            for (var p = 0; p < 784; p++) pixels[p] = (byte)images[i * 784 + p];
            WritePng(Path.Combine(classFolder, $"{i:D5}.png"), 28, 28, SKColorType.Gray8, pixels);
        }
        var order = Enumerable.Range(0, count).OrderBy(i => labels[i]).ThenBy(i => i).ToArray();
        return (folder, order);
    }

    public static void WritePng(string path, int width, int height, SKColorType type, byte[] pixels)
    {
        var info = new SKImageInfo(width, height, type, type == SKColorType.Gray8 ? SKAlphaType.Opaque : SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    /// <summary>An RGBA image of one color, or with a left and a right half of different colors.</summary>
    public static void WriteRgb(string path, int width, int height, SKColor left, SKColor? right = null)
    {
        var pixels = new byte[width * height * 4];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var c = x < width / 2 || right is null ? left : right.Value;
                var o = (y * width + x) * 4;
                (pixels[o], pixels[o + 1], pixels[o + 2], pixels[o + 3]) = (c.Red, c.Green, c.Blue, 255);
            }
        WritePng(path, width, height, SKColorType.Rgba8888, pixels);
    }
}
