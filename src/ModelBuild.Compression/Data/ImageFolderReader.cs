using SkiaSharp;

namespace ModelBuild.Compression.Data;

/// <summary>
/// A folder of images as an NCHW float tensor for an image model. One subfolder per class gives labels, numbered by
/// the subfolders' names in ordinal order (torchvision's ImageFolder convention); a folder of images alone is
/// unlabeled. Images are decoded with SkiaSharp (PNG, JPEG, BMP, GIF, WebP), converted to the model's channels
/// (1: ITU-R 601 luma as PIL's <c>convert("L")</c>; 3: RGB, alpha dropped), resized bilinearly to the model's H x W
/// when they differ, scaled to 0..1 or kept at 0..255, then normalized per channel: (x - mean) / std.
/// Files with other extensions are ignored; samples are ordered by class, then by relative path (ordinal).
/// </summary>
public static class ImageFolderReader
{
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"];

    public static bool IsImage(string path) => Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    /// <summary>True when <paramref name="folder"/> holds images, directly or in subfolders.</summary>
    public static bool LooksLikeImageFolder(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Any(IsImage);

    public static LabeledData Read(string folder, DataReadOptions options)
    {
        if (!Directory.Exists(folder)) throw DataErrors.Missing(folder);
        var (files, labels) = List(folder);
        var input = options.Input;
        if (input is null || !input.IsFloat || input.Dimensions.Length != 4 || input.Fixed(1) is not (1 or 3))
            throw DataErrors.NotImageModel(folder, input?.Name ?? "(no model)", input?.Dimensions ?? []);
        var channels = (int)input.Fixed(1)!.Value;
        var mean = PerChannel(options.ImageMean, channels, 0f, "--image-mean");
        var std = PerChannel(options.ImageStd, channels, 1f, "--image-std");
        var scale = options.PixelScale == PixelScale.Byte ? 1f : 1f / 255f;

        int height, width;
        if (input.Fixed(2) is { } h && input.Fixed(3) is { } w) { height = (int)h; width = (int)w; }
        else
        {
            // A model without a fixed H x W takes the images as they are, so they must agree with each other.
            using var codec = OpenCodec(files[0]);
            (height, width) = (codec.Info.Height, codec.Info.Width);
        }
        var plane = height * width;
        var sampleSize = channels * plane;
        var values = new float[checked(files.Count * sampleSize)];
        var dynamicSize = input.Fixed(2) is null || input.Fixed(3) is null;
        // Each image writes its own slice, so the parallel decode gives the same bytes as a sequential one.
        var failures = new Exception?[files.Count];
        Parallel.For(0, files.Count, i =>
        {
            try { Fill(i); }
            catch (Exception e) { failures[i] = e; }
        });
        // The first failing file in sample order, whichever thread met it first.
        if (failures.FirstOrDefault(f => f is not null) is { } failure)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        var tensor = new DataTensor(folder, [files.Count, channels, height, width], values, null, "image");
        return new LabeledData(tensor, labels, labels is null ? null : folder);

        void Fill(int i)
        {
            using var bitmap = Decode(files[i], width, height, dynamicSize ? Path.GetFullPath(folder) : null, files[0]);
            var pixels = bitmap.GetPixelSpan();
            var rowBytes = bitmap.RowBytes;
            var sample = values.AsSpan(i * sampleSize, sampleSize);
            for (var y = 0; y < height; y++)
            {
                var row = pixels.Slice(y * rowBytes, width * 4);
                for (var x = 0; x < width; x++)
                {
                    byte r = row[4 * x], g = row[4 * x + 1], b = row[4 * x + 2];
                    if (channels == 1)
                    {
                        var luma = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
                        sample[y * width + x] = (luma * scale - mean[0]) / std[0];
                    }
                    else
                    {
                        sample[y * width + x] = (r * scale - mean[0]) / std[0];
                        sample[plane + y * width + x] = (g * scale - mean[1]) / std[1];
                        sample[2 * plane + y * width + x] = (b * scale - mean[2]) / std[2];
                    }
                }
            }
        }
    }

    /// <summary>The image files in sample order, and their class ids when the folder has class subfolders.</summary>
    public static (List<string> Files, long[]? Labels) List(string folder)
    {
        var classes = Directory.GetDirectories(folder).Order(StringComparer.Ordinal).ToList();
        var direct = Directory.GetFiles(folder).Where(IsImage).Order(StringComparer.Ordinal).ToList();
        if (classes.Count > 0 && direct.Count > 0) throw DataErrors.Mixed(folder);
        if (classes.Count == 0)
        {
            if (direct.Count == 0) throw DataErrors.Empty(folder, "the folder holds no images (.png, .jpg, .jpeg, .bmp, .gif, .webp) and no class subfolders");
            return (direct, null);
        }
        var files = new List<string>();
        var labels = new List<long>();
        for (var c = 0; c < classes.Count; c++)
        {
            var images = Directory.EnumerateFiles(classes[c], "*", SearchOption.AllDirectories).Where(IsImage)
                .Order(StringComparer.Ordinal).ToList();
            if (images.Count == 0)
                throw DataErrors.Empty(classes[c], $"the class folder '{Path.GetFileName(classes[c])}' (class {c}) holds no images; every class subfolder needs at least one");
            files.AddRange(images);
            labels.AddRange(Enumerable.Repeat((long)c, images.Count));
        }
        return (files, labels.ToArray());
    }

    /// <summary>The class names in id order (the subfolder names), for reports and for writing labels.</summary>
    public static IReadOnlyList<string> ClassNames(string folder) =>
        Directory.GetDirectories(folder).Order(StringComparer.Ordinal).Select(d => Path.GetFileName(d)).ToList();

    static SKCodec OpenCodec(string path)
    {
        SKCodec? codec;
        // Skia reports an unreadable file as "not an image": open it first so a permission or I/O error says so.
        using (File.OpenRead(path)) { }
        try { codec = SKCodec.Create(path, out var result); if (codec is null) throw DataErrors.Image(path, $"it is not a PNG, JPEG, BMP, GIF or WebP image (Skia: {result})"); }
        catch (Exception e) when (e is not Onnx.Diagnostics.ModelBuildException) { throw DataErrors.Image(path, e.Message, e); }
        return codec;
    }

    /// <summary>RGBA8888, unpremultiplied, at width x height (bilinear when the image's own size differs).</summary>
    static SKBitmap Decode(string path, int width, int height, string? sameSizeFolder, string firstFile)
    {
        using var codec = OpenCodec(path);
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (sameSizeFolder is not null && (info.Width != width || info.Height != height))
            throw DataErrors.Sizes(sameSizeFolder, $"{width}x{height} in '{firstFile}'", $"{info.Width}x{info.Height} in '{path}'");
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
        {
            // A truncated file decodes partly (IncompleteInput, the rest blank): reject it rather than train on half an image.
            bitmap.Dispose();
            throw DataErrors.Image(path, result == SKCodecResult.IncompleteInput ? "the file is truncated" : $"Skia: {result}");
        }
        if (info.Width == width && info.Height == height) return bitmap;
        using (bitmap)
        {
            var resized = bitmap.Resize(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul),
                new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None));
            return resized ?? throw DataErrors.Image(path, $"it cannot be resized to {width}x{height}");
        }
    }

    static float[] PerChannel(float[]? values, int channels, float fallback, string option)
    {
        if (values is null) return Enumerable.Repeat(fallback, channels).ToArray();
        if (values.Length == 1) return Enumerable.Repeat(values[0], channels).ToArray();
        if (values.Length == channels) return values;
        throw DataErrors.Option(option, string.Join(",", values), $"the model takes {channels} channel(s): give 1 value or {channels}");
    }
}
