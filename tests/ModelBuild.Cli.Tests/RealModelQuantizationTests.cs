using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// Every model in ../shared/models and ../shared/teachers with `auto`, and each distinct graph with every form: `modelbuild compress
/// --quantize <form>` exits 0 with a model ONNX Runtime loads and runs, or exits 2 with an MB code; never 3 (an
/// internal error) and never anything else. Data is passed where the model's folder has it, as a user would.
/// </summary>
public sealed class RealModelQuantizationTests
{
    private static readonly string[] Forms = ["int8-dynamic", "int8-static", "int4-weight", "fp16", "auto"];

    public static TheoryData<string, string> ModelsAndForms()
    {
        var data = new TheoryData<string, string>();
        foreach (var model in SharedModels())
        {
            var relative = Path.GetRelativePath(TestPaths.Shared, model);
            // `auto` on every model is the acceptance; each explicit form runs on every distinct graph kind (the models
            // folder and the teachers), not on the nine synthetic-weight light models (their ConstantOfShape weights
            // unpack to hundreds of MB per run), the style-transfer model (seconds per inference) or the students
            // (smaller copies of their teachers' graphs), which keeps the CI run within its time.
            var everyForm = !relative.Contains("onnx-light-models", StringComparison.Ordinal)
                && !relative.Contains("fast-neural-style", StringComparison.Ordinal) && !Path.GetFileName(relative).StartsWith("student", StringComparison.Ordinal);
            foreach (var form in everyForm ? Forms : ["auto"]) data.Add(relative, form);
        }
        return data;
    }

    private static IEnumerable<string> SharedModels() =>
        Directory.EnumerateFiles(Path.Combine(TestPaths.Shared, "models"), "*.onnx", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(TestPaths.Shared, "teachers"), "*.onnx", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal);

    [Fact]
    public void The_theory_covers_every_shared_model()
    {
        // 11 model folders (onnx-light-models holds 9) and 4 teacher folders of 3 models each.
        Assert.True(SharedModels().Count() >= 30, $"only {SharedModels().Count()} models found under {TestPaths.Shared}");
    }

    [Theory]
    [MemberData(nameof(ModelsAndForms))]
    public void Quantizing_a_shared_model_exits_0_with_a_loadable_model_or_2_with_an_MB_code(string model, string form)
    {
        var path = Path.Combine(TestPaths.Shared, model);
        var dir = Directory.CreateTempSubdirectory("mb-real-quant-").FullName;
        try
        {
            var output = Path.Combine(dir, "out.onnx");
            List<string> args = ["compress", path, "-o", output, "--quantize", form, "--threads", "1", .. DataArguments(path)];
            // Timing is not what this test checks; one run keeps the latency gate's code path in, except for the
            // style-transfer model whose single 720x720 inference costs seconds.
            args.AddRange(["--latency-runs", model.Contains("fast-neural-style", StringComparison.Ordinal) ? "0" : "1"]);
            var (exit, stdout, stderr) = CliProcess.Run([.. args]);
            var all = stdout + stderr;
            Assert.True(exit is 0 or 2, $"{model} --quantize {form}: exit {exit}\n{all}");
            if (exit == 2)
            {
                Assert.Matches(new Regex(@"error MB0\d{3}"), all);
                Assert.DoesNotContain("MB0599", all);
                Assert.False(File.Exists(output), "no output on failure");
                return;
            }
            Assert.DoesNotContain("MB0599", all);
            RunOnce(output);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Int8_dynamic_on_a_convolution_only_model_warns_MB0215_and_keeps_the_float_model()
    {
        // super-resolution-10 is Conv/Reshape/Transpose only: before, this ended in MB0599 "At least one output should be requested".
        var model = Path.Combine(TestPaths.Shared, "models", "super-resolution-10", "model.onnx");
        var dir = Directory.CreateTempSubdirectory("mb-real-quant-").FullName;
        try
        {
            foreach (var form in new[] { "int8-dynamic", "int4-weight" })
            {
                var output = Path.Combine(dir, form + ".onnx");
                var (exit, stdout, stderr) = CliProcess.Run("compress", model, "-o", output, "--quantize", form, "--latency-runs", "0");
                Assert.True(exit == 0, stdout + stderr);
                Assert.Contains("MB0215", stdout + stderr);
                Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(output));
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Weights_stored_as_ConstantOfShape_that_no_encoding_makes_smaller_keep_the_float_model_with_MB0216()
    {
        // light_squeezenet.onnx is 15 KB: its 1.2M weights are ConstantOfShape nodes; folded they take 5 MB, 2.5 MB in fp16.
        var model = Path.Combine(TestPaths.Shared, "models", "onnx-light-models", "light_squeezenet.onnx");
        var dir = Directory.CreateTempSubdirectory("mb-real-quant-").FullName;
        try
        {
            var output = Path.Combine(dir, "fp16.onnx");
            var (exit, stdout, stderr) = CliProcess.Run("compress", model, "-o", output, "--quantize", "fp16", "--latency-runs", "0");
            Assert.True(exit == 0, stdout + stderr);
            Assert.Contains("MB0216", stdout + stderr);
            Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(output));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>Calibration and evaluation data as the model's folder provides it.</summary>
    private static IEnumerable<string> DataArguments(string model)
    {
        var folder = Path.GetDirectoryName(model)!;
        if (File.Exists(Path.Combine(folder, "calib_x.npy")))
            return ["--calibration-data", Path.Combine(folder, "calib_x.npy"), "--eval-data", Path.Combine(folder, "test_x.npy"), "--eval-labels", Path.Combine(folder, "test_y.npy")];
        if (File.Exists(Path.Combine(folder, "calib.npz")))
            return ["--calibration-data", Path.Combine(folder, "calib.npz"), "--eval-data", Path.Combine(folder, "test.npz"), "--eval-labels", Path.Combine(folder, "test_y.npy")];
        if (Directory.Exists(Path.Combine(folder, "test_data_set_0")))
            return ["--calibration-data", folder, "--eval-data", folder];
        return [];
    }

    /// <summary>ONNX Runtime loads the model and runs it once on zeros (dynamic dims as 1).</summary>
    private static void RunOnce(string path)
    {
        using var session = new InferenceSession(path);
        var feeds = new List<NamedOnnxValue>();
        foreach (var (name, meta) in session.InputMetadata)
        {
            var dims = meta.Dimensions.Select(d => Math.Max(1, d)).ToArray();
            var count = dims.Aggregate(1, (a, b) => a * b);
            feeds.Add(meta.ElementDataType switch
            {
                TensorElementType.Float => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(new float[count], dims)),
                TensorElementType.Float16 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<Float16>(new Float16[count], dims)),
                TensorElementType.Int32 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<int>(new int[count], dims)),
                TensorElementType.Int64 => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(new long[count], dims)),
                var t => throw new InvalidOperationException($"input '{name}' of {path} has element type {t}"),
            });
        }
        using var results = session.Run(feeds);
        Assert.NotEmpty(results);
    }
}
