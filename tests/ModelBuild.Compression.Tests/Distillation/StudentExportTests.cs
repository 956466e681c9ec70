using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Compression.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation;

[Collection(TorchTrainingCollection.Name)]
public sealed class StudentExportTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mb-export-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("wine-mlp")]
    [InlineData("synthetic-intent-transformer")]
    public void Exported_student_in_onnx_runtime_matches_the_trained_torch_forward(string name)
    {
        var c = new TeacherCase(name);
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.manual_seed(3);
        using var module = OnnxGraphImporter.Import(c.StudentScratch);
        PyTorchDefaultInitializer.Apply(module); // new values everywhere, so a stale initializer could not pass
        var x = DistillationData.ToInputTensor(NpyDataReader.Read(c.File("test_x.npy")));
        var path = Path.Combine(_dir, "exported.onnx");
        OnnxStudentExporter.Save(module, path);

        module.eval();
        using var noGrad = torch.no_grad();
        using var ours = module.forward(x);
        using var ort = new OrtTensorBridge(path, threads: 1);
        using var reference = ort.Run(new Dictionary<string, Tensor> { [module.InputNames[0]] = x })[module.OutputNames[0]];
        TensorAssert.Close(reference, ours, 1e-4, $"{name} exported student");

        // Same graph, new initializer values: nodes and initializer names/shapes unchanged.
        var original = ModelBuild.Onnx.OnnxModel.Load(c.StudentScratch).Proto;
        var exported = ModelBuild.Onnx.OnnxModel.Load(path).Proto;
        Assert.Equal(original.Graph.Node, exported.Graph.Node);
        Assert.Equal(original.Graph.Initializer.Select(i => (i.Name, string.Join(",", i.Dims))), exported.Graph.Initializer.Select(i => (i.Name, string.Join(",", i.Dims))));
        Assert.NotEqual(original.Graph.Initializer.First(i => i.Dims.Count == 2).RawData, exported.Graph.Initializer.First(i => i.Dims.Count == 2).RawData);
    }

    [Fact]
    public void Reinitialization_follows_pytorch_defaults_by_role()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.manual_seed(0);
        using var module = OnnxGraphImporter.Import(new TeacherCase("synthetic-intent-transformer").StudentScratch);
        PyTorchDefaultInitializer.Apply(module);
        var p = module.OnnxParameters;
        // MatMul weight [in=64, out=128] -> U(+-1/sqrt(64)); its bias (Add after the MatMul) the same bound.
        Assert.True(p["onnx::MatMul_133"].abs().max().item<float>() <= 1 / 8f);
        Assert.True(p["onnx::MatMul_133"].abs().max().item<float>() > 0.9f / 8f);
        Assert.True(p["blocks.0.fc1.bias"].abs().max().item<float>() <= 1 / 8f);
        // FC2 [in=128] has the smaller bound.
        Assert.True(p["onnx::MatMul_134"].abs().max().item<float>() <= 1 / Math.Sqrt(128) + 1e-6);
        // LayerNorm affine (decomposed Mul/Add): ones and zeros. Embedding: N(0,1).
        Assert.Equal(64, p["blocks.0.ln1.weight"].eq(1f).sum().item<long>());
        Assert.Equal(64, p["blocks.0.ln1.bias"].eq(0f).sum().item<long>());
        var std = p["tok.weight"].std().item<float>();
        Assert.InRange(std, 0.95f, 1.05f);
        // Gemm classifier [12, 64] with transB=1: fan_in 64.
        Assert.True(p["cls.weight"].abs().max().item<float>() <= 1 / 8f);
    }
}
