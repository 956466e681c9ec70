using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Synthetic;
using ModelBuild.Compression.Tests.Distillation;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Tests.Data;

[Collection(TorchTrainingCollection.Name)]
public class ImageSynthesizerTests
{
    [Fact]
    public void Mixup_with_noise_is_seeded_stays_in_the_pixel_range_and_lies_between_two_real_images()
    {
        var (images, _) = TestMaterials.Mnist(0, 20, b => b / 255f);
        var generated = ImageSynthesizer.Generate(images, 20, 784, 300, seed: 3);
        Assert.Equal(generated, ImageSynthesizer.Generate(images, 20, 784, 300, seed: 3));
        Assert.NotEqual(generated, ImageSynthesizer.Generate(images, 20, 784, 300, seed: 4));
        Assert.All(generated, v => Assert.InRange(v, 0f, 1f));
        // Each image is lambda * a + (1 - lambda) * b + noise for some pair: its best least-squares fit over all pairs
        // leaves only the noise (std 0.1 x the data's ~0.3), far less than the distance to any single real image.
        for (var s = 0; s < 10; s++)
        {
            var g = generated.AsSpan(s * 784, 784);
            double bestPair = double.MaxValue, bestSingle = double.MaxValue;
            for (var a = 0; a < 20; a++)
            {
                var ia = images.AsSpan(a * 784, 784);
                bestSingle = Math.Min(bestSingle, Rms(g, ia, ia, 1));
                for (var b = 0; b < 20; b++)
                {
                    var ib = images.AsSpan(b * 784, 784);
                    for (var l = 0.0; l <= 1.0001; l += 0.02) bestPair = Math.Min(bestPair, Rms(g, ia, ib, l));
                }
            }
            Assert.InRange(bestPair, 0, 0.05);
            Assert.True(bestPair <= bestSingle, $"image {s}: pair fit {bestPair} vs single {bestSingle}");
        }
    }

    static double Rms(ReadOnlySpan<float> g, ReadOnlySpan<float> a, ReadOnlySpan<float> b, double lambda)
    {
        double sum = 0;
        for (var p = 0; p < g.Length; p++) { var d = g[p] - (lambda * a[p] + (1 - lambda) * b[p]); sum += d * d; }
        return Math.Sqrt(sum / g.Length);
    }

    [Fact]
    public void Distillation_from_a_png_folder_with_synthetic_images_runs_through_the_image_synthesizer()
    {
        // mnist-cnn-pytorch distilled into itself on 64 images generated from a 30-image PNG folder: proves the folder is
        // read through DataSource with the teacher's input shape and that --synthetic dispatches images to mixup + noise.
        var dir = TestMaterials.TempDir();
        var model = OnnxModel.Load(TestMaterials.Model("mnist-cnn-pytorch"));
        DynamicBatch.Apply(model.Proto); // the file fixes batch 1; training needs batches
        var teacher = Path.Combine(dir, "teacher.onnx");
        model.Save(teacher);
        var (folder, _) = DataTestFiles.MnistPngFolder(30);
        var options = new DistillationOptions
        {
            TeacherPath = teacher, StudentPath = teacher, OutputPath = Path.Combine(dir, "student.onnx"),
            TrainingData = folder, Synthetic = 64, Epochs = 1, BatchSize = 32, Seed = 5,
            DataOptions = new DataReadOptions { ImageMean = [0.1307f], ImageStd = [0.3081f] },
        };
        var result = StudentDistiller.Distill(options);
        Assert.Equal(64, result.TrainingSamples);
        Assert.True(File.Exists(options.OutputPath));
    }
}
