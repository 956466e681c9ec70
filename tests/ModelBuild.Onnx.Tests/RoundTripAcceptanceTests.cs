using ModelBuild.Onnx.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ModelBuild.Onnx.Tests;

/// <summary>
/// Issue 3 acceptance: every model in ../shared loads, saves and reloads unchanged, and ONNX Runtime gives
/// bit-identical outputs for the saved copies (inline and with external data). Each test walks all models
/// and reports every failure at once.
/// </summary>
[Trait("Category", "Acceptance")]
public sealed class RoundTripAcceptanceTests(ITestOutputHelper output)
{
    private static global::Onnx.ModelProto WithRawData(global::Onnx.ModelProto proto)
    {
        var copy = proto.Clone();
        foreach (var tensor in Graph.GraphTraversal.AllTensors(copy.Graph))
        {
            Tensors.TensorData.ConvertToRawData(tensor);
        }
        return copy;
    }

    [Fact]
    public void Every_shared_model_loads_saves_and_reloads_protobuf_equal()
    {
        var files = SharedMaterials.NodeTestCases().Select(c => Path.Combine(c.Directory, "model.onnx"))
            .Concat(SharedMaterials.RealModelFiles())
            .ToList();
        Assert.True(files.Count >= 562 + 20, $"expected the 562 node tests plus the real models, found {files.Count} files");
        using var temp = new TempDirectory();
        var failures = new List<string>();
        int byteIdentical = 0;
        for (int i = 0; i < files.Count; i++)
        {
            try
            {
                var original = OnnxModel.Load(files[i]);
                string saved = temp.File($"{i}.onnx");
                original.Save(saved);
                var reloaded = OnnxModel.Load(saved);
                if (!original.Proto.Equals(reloaded.Proto))
                {
                    failures.Add($"{SharedMaterials.RepoRelative(files[i])}: reloaded model differs");
                }
                if (File.ReadAllBytes(files[i]).AsSpan().SequenceEqual(File.ReadAllBytes(saved)))
                {
                    byteIdentical++;
                }
            }
            catch (Exception e)
            {
                failures.Add($"{SharedMaterials.RepoRelative(files[i])}: {e.GetType().Name}: {e.Message}");
            }
        }
        output.WriteLine($"{files.Count} models round-tripped; {byteIdentical} saved byte-identical to the original file.");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void Ort_outputs_of_saved_node_tests_are_bit_identical_to_the_originals()
    {
        var cases = SharedMaterials.NodeTestCases().Where(c => c.Status == "PASS").ToList();
        Assert.Equal(500, cases.Count);
        using var temp = new TempDirectory();
        var failures = new List<string>();
        int runs = 0;
        foreach (var (name, directory, _) in cases)
        {
            try
            {
                string originalPath = Path.Combine(directory, "model.onnx");
                var model = OnnxModel.Load(originalPath);
                string saved = temp.File(name + ".onnx");
                model.Save(saved);
                foreach (var dataSet in Directory.GetDirectories(directory, "test_data_set_*").Order(StringComparer.Ordinal))
                {
                    var inputs = ModelInputs.FromTestDataSet(model, dataSet);
                    var expected = OrtRunner.Run(originalPath, inputs);
                    var actual = OrtRunner.Run(saved, inputs);
                    Assert.NotEmpty(expected);
                    if (!expected.SequenceEqual(actual))
                    {
                        failures.Add($"{name}/{Path.GetFileName(dataSet)}: outputs differ");
                    }
                    runs++;
                }
            }
            catch (Exception e)
            {
                failures.Add($"{name}: {e.GetType().Name}: {e.Message}");
            }
        }
        output.WriteLine($"{cases.Count} PASS node tests, {runs} data sets compared.");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void Ort_outputs_of_saved_real_models_are_bit_identical_inline_and_with_external_data()
    {
        var files = SharedMaterials.RealModelFiles();
        using var temp = new TempDirectory();
        var failures = new List<string>();
        int externalized = 0;
        for (int i = 0; i < files.Count; i++)
        {
            string label = SharedMaterials.RepoRelative(files[i]);
            try
            {
                var model = OnnxModel.Load(files[i]);
                var inputs = ModelInputs.For(model, files[i]);
                var expected = OrtRunner.Run(files[i], inputs);
                Assert.NotEmpty(expected);

                string inline = temp.File($"{i}-inline.onnx");
                model.Save(inline);
                if (!expected.SequenceEqual(OrtRunner.Run(inline, inputs)))
                {
                    failures.Add($"{label}: outputs differ after an inline save");
                }

                // External data: every initializer of 1 KiB or more goes to a data file next to the copy.
                string folder = Path.Combine(temp.Path, $"ext{i}");
                string external = Path.Combine(folder, "model.onnx");
                model.Save(external, new OnnxSaveOptions { ExternalDataThreshold = 1024 });
                if (File.Exists(external + ".data"))
                {
                    externalized++;
                    if (new FileInfo(external).Length >= new FileInfo(files[i]).Length)
                    {
                        failures.Add($"{label}: the external-data copy is not smaller than the original");
                    }
                }
                if (!expected.SequenceEqual(OrtRunner.Run(external, inputs)))
                {
                    failures.Add($"{label}: outputs differ after saving with external data");
                }
                // Externalizing moves typed-field data (float_data, ...) into raw bytes: compare in that one form.
                if (!WithRawData(OnnxModel.Load(external).Proto).Equals(WithRawData(model.Proto)))
                {
                    failures.Add($"{label}: reloading the external-data copy does not give the original model");
                }
            }
            catch (Exception e)
            {
                failures.Add($"{label}: {e.GetType().Name}: {e.Message}");
            }
        }
        output.WriteLine($"{files.Count} real models compared; {externalized} had initializers >= 1 KiB written as external data.");
        Assert.True(externalized >= 10, $"only {externalized} models were saved with external data");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }
}
