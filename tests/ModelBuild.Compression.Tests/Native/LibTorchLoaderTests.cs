using ModelBuild.Compression.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Native;

[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public sealed class LibTorchLoaderTests
{
    [Fact]
    public void OpenMp_waits_passively_unless_the_user_chose_a_policy()
    {
        LibTorchLoader.EnsureLoaded();
        // The process started with this value (or none); .NET's managed copy of the environment is untouched by setenv.
        string expected = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") ?? "PASSIVE";
        Assert.Equal(expected, System.Runtime.InteropServices.Marshal.PtrToStringUTF8(LibTorchLoader.GetNativeEnv("OMP_WAIT_POLICY")));
    }

    [Fact]
    public void A_float32_convolution_matches_the_same_convolution_in_float64()
    {
        // The shape that oneDNN got wrong on the AVX-512 build machines (CIFAR-10 CNN's fourth Conv: 0.095 off);
        // libtorch never sends float64 to oneDNN, so the float64 run is the reference.
        LibTorchLoader.EnsureLoaded();
        Assert.False(LibTorchLoader.OneDnnEnabled && Environment.GetEnvironmentVariable("MODELBUILD_TORCH_ONEDNN") != "1");
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var input = rand(new long[] { 2, 24, 12, 12 }, generator: generator);
        var weight = rand(new long[] { 24, 24, 5, 5 }, generator: generator) * 0.1 - 0.05;
        var single = nn.functional.conv2d(input, weight, padding: new long[] { 1, 1 });
        var reference = nn.functional.conv2d(input.to_type(ScalarType.Float64), weight.to_type(ScalarType.Float64), padding: new long[] { 1, 1 });
        double worst = (single.to_type(ScalarType.Float64) - reference).abs().max().item<double>();
        Assert.True(worst < 1e-4, $"float32 convolution is off by {worst} against float64");
    }

    [Fact]
    public void Loads_exactly_one_copy_of_libtorch_cpu()
    {
        LibTorchLoader.EnsureLoaded();
        using var sum = ones(3).sum();
        Assert.Equal(3f, sum.item<float>());

        var libtorchCpuPaths = File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/') is var at and >= 0 ? line[at..] : "")
            .Where(path => Path.GetFileName(path) == "libtorch_cpu.so")
            .Distinct()
            .ToList();
        Assert.Single(libtorchCpuPaths);
    }

    [Fact]
    public void Trains_a_small_mlp_until_the_loss_halves()
    {
        LibTorchLoader.EnsureLoaded();
        torch.manual_seed(0);

        // Two interleaved spirals' worth of difficulty is not needed: two Gaussian blobs per class, 512 points.
        var random = new Random(0);
        var features = new float[512 * 2];
        var labels = new long[512];
        for (var i = 0; i < 512; i++)
        {
            var label = i % 2;
            var centre = (i / 2) % 2 == 0 ? 1.5f : -1.5f;
            features[2 * i] = centre + (float)Gaussian(random) * 0.5f;
            features[2 * i + 1] = (label == 0 ? centre : -centre) + (float)Gaussian(random) * 0.5f;
            labels[i] = label;
        }
        using var x = tensor(features, [512, 2]);
        using var y = tensor(labels);
        var model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2));
        var optimizer = optim.Adam(model.parameters(), lr: 0.01);
        var criterion = nn.CrossEntropyLoss();

        float first = 0, last = 0;
        for (var step = 0; step < 300; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = criterion.forward(model.forward(x), y);
            loss.backward();
            optimizer.step();
            var value = loss.item<float>();
            if (step == 0) first = value;
            last = value;
        }

        Assert.True(float.IsFinite(last));
        Assert.True(last <= first / 2, $"loss went from {first} to {last}");
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
