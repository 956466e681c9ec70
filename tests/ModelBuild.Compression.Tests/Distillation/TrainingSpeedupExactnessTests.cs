using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Students;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// The two things that make transformer distillation fast must not change what is computed: fused LayerNorm/GELU
/// kernels against the op-by-op graph, and length-truncated batches against full-length ones, each in the forward
/// pass and in every parameter's gradient, on real batches of the intent data.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class TrainingSpeedupExactnessTests
{
    static readonly TeacherCase Intent = new("synthetic-intent-transformer");

    static Tensor TrainRows(long count)
    {
        var x = DistillationData.ToInputTensor(NpyDataReader.Read(Intent.File("train_x.npy")));
        return x.slice(0, 0, count, 1);
    }

    /// <summary>Logits and the gradient of a fixed random projection of them with respect to every parameter.</summary>
    static (Tensor Logits, Dictionary<string, Tensor> Gradients) ForwardAndGradients(OnnxGraphModule module, Tensor x, SequenceTruncation? truncation = null)
    {
        module.train(); // dropout is 0 by default, so train mode is deterministic; it exercises the training paths
        foreach (var p in module.parameters()) p.grad = null;
        var logits = module.Run(new Dictionary<string, Tensor> { [module.InputNames[0]] = x }, new[] { module.OutputNames[0] }, truncation)[module.OutputNames[0]];
        var generator = new Generator(42);
        var weights = torch.randn(logits.shape, generator: generator);
        logits.mul(weights).sum().backward();
        var grads = module.OnnxParameters.ToDictionary(kv => kv.Key, kv => kv.Value.grad!.detach().clone());
        return (logits.detach(), grads);
    }

    [Theory]
    [InlineData("student_scratch.onnx", 4)] // 3 LayerNorms (ln1, ln2, ln_f) + 1 GELU
    [InlineData("teacher.onnx", 7)]         // 5 LayerNorms + 2 GELUs
    public void Fused_layer_norm_and_gelu_match_the_op_by_op_graph_in_forward_and_gradients(string file, int expectedFusions)
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var proto = ModelBuild.Onnx.OnnxModel.Load(Intent.File(file)).Proto;
        using var reference = OnnxGraphImporter.Import(proto, file);
        using var fused = OnnxGraphImporter.Import(proto, file, fuseOperators: true);
        Assert.Equal(0, reference.FusedOperators);
        Assert.Equal(expectedFusions, fused.FusedOperators);
        Assert.Contains(fused.PlanNodes, n => n.OpType == "LayerNormalization");
        Assert.Contains(fused.PlanNodes, n => n.OpType == "Gelu");
        Assert.DoesNotContain(fused.PlanNodes, n => n.OpType is "Erf" or "Sqrt" or "Pow");
        Assert.Equal(proto.Graph.Node.Count, fused.Model.Graph.Node.Count); // the graph that is exported keeps its nodes

        using var scope = torch.NewDisposeScope();
        var x = TrainRows(64);
        var (expectedLogits, expectedGrads) = ForwardAndGradients(reference, x);
        var (logits, grads) = ForwardAndGradients(fused, x);
        TensorAssert.Close(expectedLogits, logits, 1e-5, $"{file} fused logits");
        foreach (var (name, g) in expectedGrads) TensorAssert.CloseToScale(g, grads[name], 1e-5, $"{file} fused gradient of {name}");
    }

    [Fact]
    public void Fusion_keeps_tensors_a_feature_loss_reads()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var proto = ModelBuild.Onnx.OnnxModel.Load(Intent.StudentScratch).Proto;
        using var module = OnnxGraphImporter.Import(proto, "student", fuseOperators: true, preserveTensors: new HashSet<string> { "/blocks.0/Erf_output_0" });
        Assert.Equal(3, module.FusedOperators); // the GELU around the preserved tensor stays op by op
        Assert.True(module.HasTensor("/blocks.0/Erf_output_0"));
    }

    [Theory]
    [InlineData("student_scratch.onnx", true)]  // PyTorch default initialization, as distillation starts
    [InlineData("student_kd.onnx", false)]      // trained weights
    [InlineData("teacher.onnx", false)]         // two layers, four heads
    public void Truncated_batches_give_the_full_length_logits_and_gradients_on_real_batches(string file, bool reinitialize)
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.manual_seed(5);
        using var module = OnnxGraphImporter.Import(ModelBuild.Onnx.OnnxModel.Load(Intent.File(file)).Proto, file, fuseOperators: true);
        if (reinitialize) PyTorchDefaultInitializer.Apply(module);
        using var scope = torch.NewDisposeScope();
        var all = DistillationData.ToInputTensor(NpyDataReader.Read(Intent.File("train_x.npy")));
        var plan = SequenceTruncation.TryCreate(module, all.slice(0, 0, 2, 1), out var reason);
        Assert.True(plan is not null, reason);
        Assert.Equal(32, plan.FullLength);
        Assert.Equal(0, plan.PadId);
        Assert.Equal(new[] { 1 }, plan.SlicedTensors["pos"]);      // the learned position table [1, 32, d]
        Assert.All(plan.ReshapeEntries.Values, e => Assert.Equal(new[] { 1 }, e)); // [-1, 32, heads, 32]: only the first 32 is the sequence

        // Every training row, in length-sorted batches of 256 cut to their longest row.
        double deviation = plan.MaxDeviation(module, all);
        Assert.True(deviation <= StudentDistiller.TruncationTolerance, $"{file}: truncated logits deviate by {deviation:G3}");

        // Gradients: a batch of short rows, full length vs cut.
        var lengths = plan.RowLengths(all);
        var shortRows = Enumerable.Range(0, lengths.Length).Where(i => lengths[i] <= 8).Take(32).Select(i => (long)i).ToArray();
        Assert.True(shortRows.Length == 32, "the data has short rows");
        var x = all.index_select(0, torch.tensor(shortRows));
        long cut = shortRows.Max(i => lengths[i]);
        Assert.True(cut < 32);
        var (fullLogits, fullGrads) = ForwardAndGradients(module, x);
        var (cutLogits, cutGrads) = ForwardAndGradients(module, x.narrow(1, 0, cut), plan);
        TensorAssert.Close(fullLogits, cutLogits, 1e-5, $"{file} truncated logits");
        foreach (var (name, g) in fullGrads) TensorAssert.CloseToScale(g, cutGrads[name], 1e-5, $"{file} truncated gradient of {name}");
    }

    [Fact]
    public void A_model_without_a_token_input_is_not_truncated()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var wine = new TeacherCase("wine-mlp");
        using var module = OnnxGraphImporter.Import(wine.StudentScratch);
        using var x = torch.zeros(2, 13);
        Assert.Null(SequenceTruncation.TryCreate(module, x, out var reason));
        Assert.Contains("token ids", reason);
    }

    [Fact]
    public void Length_bucketed_epoch_batches_cover_every_row_once_in_sorted_chunks()
    {
        var random = new Random(7);
        var lengths = Enumerable.Range(0, 3600).Select(_ => random.Next(1, 21)).ToArray();
        var rows = Enumerable.Range(0, 3600).ToArray();
        random.Shuffle(rows);
        var batches = StudentDistiller.EpochBatches(rows, 32, lengths, new Random(1));
        Assert.Equal((3600 + 31) / 32, batches.Count);
        Assert.Equal(rows.Order(), batches.SelectMany(b => b).Order());
        Assert.All(batches, b => Assert.InRange(b.Length, 1, 32));
        // Bucketing: within a batch the lengths are close (sorted chunks of 50 batches), unlike random batches.
        double meanSpread = batches.Average(b => b.Max(i => lengths[i]) - b.Min(i => lengths[i]));
        Assert.True(meanSpread < 3, $"mean length spread per batch {meanSpread:F2}");
        // Without lengths: the shuffled order, cut in consecutive batches.
        var plain = StudentDistiller.EpochBatches(rows, 32, null, new Random(1));
        Assert.Equal(rows, plain.SelectMany(b => b));
    }
}
