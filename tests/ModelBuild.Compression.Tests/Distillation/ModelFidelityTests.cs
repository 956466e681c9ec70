using System.IO.Compression;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Onnx.Diagnostics;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// Every model in ../shared/models and ../shared/teachers, imported into TorchSharp and run on its data, against
/// ONNX Runtime (the version Directory.Packages.props pins) on the same inputs (and against the stored expected outputs where the model has them).
/// Models with operators outside the importer's set must fail with one MB0301 that names all of them.
/// </summary>
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public sealed class ModelFidelityTests
{
    readonly ITestOutputHelper _output;
    public ModelFidelityTests(ITestOutputHelper output) => _output = output;

    const double Tolerance = 1e-4;

    static Tensor Uniform(long[] shape, int seed, double low, double high)
    {
        var random = new Random(seed);
        var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(low + (high - low) * random.NextDouble());
        return torch.tensor(data, shape);
    }

    static Tensor MnistImages(int count)
    {
        using var gz = new GZipStream(File.OpenRead(SharedMaterials.Path_("datasets", "mnist-t10k", "t10k-images-idx3-ubyte.gz")), CompressionMode.Decompress);
        var header = new byte[16];
        gz.ReadExactly(header);
        var pixels = new byte[count * 28 * 28];
        gz.ReadExactly(pixels);
        return torch.tensor(pixels.Select(p => (float)p).ToArray(), new long[] { count, 1, 28, 28 });
    }

    static Tensor IrisRows()
    {
        var rows = File.ReadLines(SharedMaterials.Path_("datasets", "iris", "iris.data")).Where(l => l.Contains(','))
            .Select(l => l.Split(',').Take(4).Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture))).SelectMany(v => v).ToArray();
        return torch.tensor(rows, new long[] { rows.Length / 4, 4 });
    }

    static Tensor Npy(string path)
    {
        var a = path.Contains(".npz:") ? NpyDataReader.ReadArray(path) : NpyArray.Read(path);
        return a.Data is long[] l ? torch.tensor(l, a.Shape) : torch.tensor(a.ToSingleArray(), a.Shape);
    }

    /// <summary>(name, model path relative to ../shared, input builder, stored expected output or null)</summary>
    public static IEnumerable<object[]> Models()
    {
        yield return new object[] { "models/mnist-8/model.onnx" };
        yield return new object[] { "models/mnist-cnn-pytorch/model.onnx" };
        yield return new object[] { "models/super-resolution-10/model.onnx" };
        yield return new object[] { "models/squeezenet1.0-fp16/model.onnx" };
        yield return new object[] { "models/ultraface-rfb-320/model.onnx" };
        yield return new object[] { "models/cifar10-cnn-pytorch/model.onnx" };
        yield return new object[] { "models/iris-mlp-pytorch/model.onnx" };
        yield return new object[] { "models/genre-mlp-keras/model.onnx" };
        yield return new object[] { "models/fast-neural-style-candy/model.onnx" };
        yield return new object[] { "models/bert-squad-keras2onnx-tiny/model.onnx" };
        yield return new object[] { "models/gpt2-past-tiny/model.onnx" };
        foreach (var net in new[] { "bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet", "vgg19", "zfnet512" })
            yield return new object[] { $"models/onnx-light-models/light_{net}.onnx" };
        foreach (var m in new[] { "teacher", "student_scratch", "student_kd" })
            yield return new object[] { $"teachers/intent-bert/{m}.onnx" };
        foreach (var c in new[] { "wine-mlp", "breast-cancer-mlp", "synthetic-intent-transformer" })
            foreach (var m in new[] { "teacher", "student_scratch", "student_kd" })
                yield return new object[] { $"teachers/{c}/{m}.onnx" };
    }

    /// <summary>The model's own data where it has some, otherwise deterministic inputs in the model's range.</summary>
    static List<(Dictionary<string, Tensor> Inputs, Dictionary<string, Tensor>? Expected)> DataFor(string model, OnnxGraphModule module)
    {
        var dir = Path.GetDirectoryName(SharedMaterials.Path_(model))!;
        var one = (string name, Tensor t) => new Dictionary<string, Tensor> { [name] = t };
        var result = new List<(Dictionary<string, Tensor>, Dictionary<string, Tensor>?)>();
        string input0 = module.InputNames[0];
        if (model.StartsWith("teachers/intent-bert/"))
        {
            // Three int64 inputs from val.npz, at the full length and cut to a shorter sequence (the axis is dynamic).
            var named = module.InputNames.ToDictionary(n => n, n => Npy(Path.Combine(dir, "val.npz") + ":" + n).slice(0, 0, 48, 1));
            result.Add((named, null));
            result.Add((named.ToDictionary(kv => kv.Key, kv => kv.Value.slice(0, 5, 8, 1).narrow(1, 0, 11)), null));
            return result;
        }
        if (model.StartsWith("teachers/"))
        {
            result.Add((one(input0, Npy(Path.Combine(dir, "test_x.npy"))), null));
            return result;
        }
        if (model.Contains("light_"))
        {
            long n = 1 * 3 * 224 * 224;
            var x = torch.arange(n, ScalarType.Float64).div(n).to_type(ScalarType.Float32).reshape(1, 3, 224, 224);
            var expected = OnnxNodeConformanceTests.ReadPb(Path.Combine(dir, Path.GetFileNameWithoutExtension(model) + "_output_0.pb"));
            result.Add((one(input0, x), new Dictionary<string, Tensor> { [module.OutputNames[0]] = expected }));
            return result;
        }
        switch (Path.GetFileName(dir))
        {
            case "mnist-8":
            case "super-resolution-10":
                foreach (var set in Directory.GetDirectories(dir, "test_data_set_*").Order())
                {
                    var x = OnnxNodeConformanceTests.ReadPb(Path.Combine(set, "input_0.pb"));
                    if (x.dim() == 2) x = x.reshape(1, 1, x.shape[0], x.shape[1]); // the zoo file's documented [224,224] quirk
                    var y = OnnxNodeConformanceTests.ReadPb(Path.Combine(set, "output_0.pb"));
                    result.Add((one(input0, x), new Dictionary<string, Tensor> { [module.OutputNames[0]] = y }));
                }
                break;
            case "mnist-cnn-pytorch":
            {
                var images = MnistImages(4); // the model's batch axis is fixed at 1
                for (int i = 0; i < 4; i++) result.Add((one(input0, images.slice(0, i, i + 1, 1)), null));
                break;
            }
            case "squeezenet1.0-fp16":
                result.Add((one(input0, OnnxNodeConformanceTests.ReadPb(Path.Combine(dir, "fp32_reference", "test_data_0_input.pb")).to_type(ScalarType.Float16)), null));
                break;
            case "ultraface-rfb-320": result.Add((one(input0, Uniform(new long[] { 1, 3, 240, 320 }, 1, -1, 1)), null)); break;
            case "cifar10-cnn-pytorch": result.Add((one(input0, Uniform(new long[] { 4, 3, 32, 32 }, 2, -1, 1)), null)); break;
            case "iris-mlp-pytorch": result.Add((one(input0, IrisRows()), null)); break;
            case "genre-mlp-keras": result.Add((one(input0, Uniform(new long[] { 4, 130, 13 }, 3, -20, 20)), null)); break;
            case "bert-squad-keras2onnx-tiny":
            {
                var ids = torch.tensor(new[] { 1, 5, 3, 2, 7, 4, 0, 2, 6, 1, 3, 0, 0, 0 }, new long[] { 2, 7 }, ScalarType.Int32);
                var mask = ids.ne(0).to_type(ScalarType.Int32);
                var types = torch.tensor(new[] { 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1 }, new long[] { 2, 7 }, ScalarType.Int32);
                result.Add((new Dictionary<string, Tensor> { ["input_ids"] = ids, ["attention_mask"] = mask, ["token_type_ids"] = types }, null));
                break;
            }
            case "gpt2-past-tiny":
            {
                var inputs = new Dictionary<string, Tensor> { ["input_ids"] = torch.tensor(new long[] { 3, 7 }, new long[] { 2, 1 }) };
                for (int i = 0; i < 12; i++) inputs[$"past_{i}"] = Uniform(new long[] { 2, 2, 2, 3, 2 }, 10 + i, -1, 1);
                result.Add((inputs, null));
                break;
            }
            default: throw new InvalidOperationException(model);
        }
        return result;
    }

    /// <summary>The shared models whose operators the importer does not cover (checked against the graph by hand).</summary>
    static readonly Dictionary<string, string[]> ExpectedUnsupported = new()
    {
        ["models/fast-neural-style-candy/model.onnx"] = ["ImageScaler", "Crop", "Affine"],
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Imported_model_matches_onnx_runtime(string model)
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var path = SharedMaterials.Path_(model);
        // The test's own list decides which branch applies, not the importer's notion of what it supports: an importer
        // that wrongly refused a model (or accepted one it cannot run) fails here.
        if (ExpectedUnsupported.TryGetValue(model, out var unsupported))
        {
            // Outside the importer's operator set: one MB0301 listing every unsupported operator.
            var e = Assert.Throws<ModelBuildException>(() => OnnxGraphImporter.Import(path));
            Assert.Equal("MB0301", e.Code);
            Assert.All(unsupported, op => Assert.Contains(op, e.Cause));
            _output.WriteLine($"{model}: MB0301 ({string.Join(", ", unsupported)})");
            return;
        }
        using var module = OnnxGraphImporter.Import(path);
        module.eval();
        using var ort = new OrtTensorBridge(path, threads: 1);
        foreach (var (inputs, expected) in DataFor(model, module))
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var ours = module.Run(inputs);
            var reference = ort.Run(inputs.Where(kv => ort.InputNames.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value));
            foreach (var name in module.OutputNames)
            {
                TensorAssert.Close(reference[name], ours[name], Tolerance, $"{model} output {name} vs ONNX Runtime");
                if (expected is not null && expected.TryGetValue(name, out var stored))
                    TensorAssert.Close(stored, ours[name], model.Contains("light_") || model.Contains("super-resolution") ? 1e-3 : Tolerance, $"{model} output {name} vs stored expected output");
            }
        }
    }
}
