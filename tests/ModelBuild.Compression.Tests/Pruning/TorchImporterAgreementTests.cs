using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;
using TorchSharp;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>
/// The pruned graphs computed by a second engine: each pruned ONNX model is imported into TorchSharp (the
/// importer distillation trains through) and must give ONNX Runtime's logits. Recovery trains exactly this
/// module, so a rewrite ORT accepts but the importer reads differently would be caught here.
/// </summary>
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public class TorchImporterAgreementTests(ITestOutputHelper output)
{
    private void AssertAgree(OnnxModel pruned, DataTensor x)
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        float[] ort = PruningMaterials.Logits(pruned, x).Values;
        var proto = pruned.Proto.Clone();
        if (DynamicBatch.IsFixedBatchOne(proto))
        {
            DynamicBatch.Apply(proto);
        }
        using var module = OnnxGraphImporter.Import(proto, "pruned");
        module.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var input = x.IsFloat ? torch.tensor(x.Floats!, x.Shape) : torch.tensor(x.Int64s!, x.Shape);
        float[] torchLogits = module.forward(input).contiguous().data<float>().ToArray();
        Assert.Equal(ort.Length, torchLogits.Length);
        double diff = ort.Zip(torchLogits, (a, b) => Math.Abs(a - b)).Max();
        output.WriteLine($"max |ORT - TorchSharp| = {diff}");
        Assert.True(diff < 1e-4, $"ORT and the TorchSharp import of the pruned graph differ by {diff}");
    }

    [Fact]
    public void Pruned_mlp_agrees() =>
        AssertAgree(StructuredPruner.Prune(PruningMaterials.Teacher("wine-mlp"), new PruningOptions { Fraction = 0.9 }).Model,
            PruningMaterials.TeacherData("wine-mlp", "test_x.npy"));

    [Fact]
    public void Pruned_cnn_agrees()
    {
        var (x, _) = PruningMaterials.MnistT10k();
        AssertAgree(StructuredPruner.Prune(PruningMaterials.Model("mnist-cnn-pytorch"), new PruningOptions { Fraction = 0.5 }).Model, MnistReader.Rows(x, 0, 1));
    }

    [Fact]
    public void Pruned_transformer_heads_ffn_and_hidden_size_agree()
    {
        var model = PruningMaterials.Teacher("synthetic-intent-transformer");
        var x = MnistReader.Rows(PruningMaterials.TeacherData("synthetic-intent-transformer", "test_x.npy"), 0, 16);
        AssertAgree(StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5 }).Model, x);
        AssertAgree(StructuredPruner.Prune(model, new PruningOptions
        {
            Fraction = 0.25, Kinds = new HashSet<PruningUnitKind> { PruningUnitKind.HiddenSize, PruningUnitKind.Heads },
        }).Model, x);
    }

    [Fact]
    public void Taylor_scores_the_transformer_through_the_importer()
    {
        var model = PruningMaterials.Teacher("synthetic-intent-transformer");
        var calib = PruningMaterials.TeacherData("synthetic-intent-transformer", "calib_x.npy");
        var taylor = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5, Criterion = ImportanceCriterion.Taylor, CalibrationData = calib, CalibrationSamples = 64 });
        var l2 = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5 });
        Assert.Equal("Taylor", taylor.Criterion);
        var ffnTaylor = taylor.Pruned.First(g => g.Kind == PruningUnitKind.Neurons).RemovedUnits;
        var ffnL2 = l2.Pruned.First(g => g.Kind == PruningUnitKind.Neurons).RemovedUnits;
        Assert.NotEqual(ffnL2, ffnTaylor);
        var x = MnistReader.Rows(PruningMaterials.TeacherData("synthetic-intent-transformer", "test_x.npy"), 0, 8);
        AssertAgree(taylor.Model, x);
    }
}
