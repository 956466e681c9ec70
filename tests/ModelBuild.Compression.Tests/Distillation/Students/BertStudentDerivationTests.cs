using ModelBuild.Compression.Evaluation;
using Google.Protobuf;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Tensors;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation.Students;

/// <summary>
/// <c>--student-width 0.5 --student-depth 0.5</c> on intent-bert, a Hugging Face-style BERT export whose attention
/// Reshape targets are computed at run time (Shape/Gather/Unsqueeze/Concat) and whose norms are LayerNormalization
/// ops: heads, hidden size, FFN, pooler and layers all shrink, and the student keeps its dynamic batch and sequence axes.
/// </summary>
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public sealed class BertStudentDerivationTests
{
    static string T(string file) => SharedMaterials.Teachers("intent-bert", file);

    static Dictionary<string, Tensor> Val(int rows, int length) =>
        new[] { "input_ids", "attention_mask", "token_type_ids" }.ToDictionary(n => n, n =>
        {
            var a = NpyDataReader.ReadArray(T("val.npz") + ":" + n);
            return torch.tensor(a.ToInt64Array(), a.Shape).slice(0, 0, rows, 1).narrow(1, 0, length);
        });

    [Fact]
    public void Folded_reshape_targets_compute_what_the_teacher_computes()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var teacher = OnnxModel.Load(T("teacher.onnx")).Proto;
        var folded = teacher.Clone();
        GraphNormalizer.Normalize(folded);
        Assert.Equal(8, GraphNormalizer.FoldComputedReshapeTargets(folded, TensorShapeProbe.Run(folded)));
        var reshapes = folded.Graph.Node.Where(n => n.OpType == "Reshape").ToList();
        var initializers = folded.Graph.Initializer.ToDictionary(i => i.Name);
        Assert.All(reshapes, r => Assert.True(initializers.ContainsKey(r.Input[1]), $"{r.Name} target still computed"));
        Assert.Equal(6, reshapes.Count(r => TensorData.ToInt64Array(initializers[r.Input[1]]).SequenceEqual(new long[] { 0, 0, 4, 32 })));
        Assert.Equal(2, reshapes.Count(r => TensorData.ToInt64Array(initializers[r.Input[1]]).SequenceEqual(new long[] { 0, 0, -1 })));
        using var original = new OrtTensorBridge(teacher.ToByteArray(), threads: 1);
        using var rewritten = new OrtTensorBridge(folded.ToByteArray(), threads: 1);
        foreach (var (rows, length) in new[] { (40, 32), (3, 9) })
        {
            var inputs = Val(rows, length);
            TensorAssert.Close(original.Run(inputs)["logits"], rewritten.Run(inputs)["logits"], 1e-5, $"folded teacher, {rows} rows of length {length}");
        }
    }

    [Fact]
    public void Half_width_half_depth_student_of_intent_bert()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var teacher = OnnxModel.Load(T("teacher.onnx")).Proto;
        var (student, derivation) = GraphStudentBuilder.Derive(teacher, 0.5, 0.5, 0.5, T("teacher.onnx"));
        Assert.Single(derivation.Depth);
        var dims = student.Graph.Initializer.ToDictionary(i => i.Name, i => i.Dims.ToArray());
        Assert.Equal(new long[] { 1069, 64 }, dims["word.weight"]);          // hidden size 128 -> 64
        Assert.Equal(new long[] { 64 }, dims["ln.weight"]);                   // LayerNormalization scale with it
        Assert.Equal(new long[] { 12, 64 }, dims["cls.weight"]);              // pooler 128 -> 64, 12 classes kept
        Assert.Single(student.Graph.Node, n => n.OpType == "Softmax");        // 2 layers -> 1
        Assert.Contains(student.Graph.Initializer, i => i.Dims.SequenceEqual(new long[] { 256, 64 })); // FFN 512 -> 256
        var targets = student.Graph.Node.Where(n => n.OpType == "Reshape").Select(r => TensorData.ToInt64Array(student.Graph.Initializer.First(i => i.Name == r.Input[1]))).ToList();
        Assert.Equal(3, targets.Count(t => t.SequenceEqual(new long[] { 0, 0, 2, 32 }))); // heads 4 -> 2, head dim 32 kept

        // Dynamic batch and sequence: ORT runs it at two lengths, and the importer matches ORT.
        var bytes = student.ToByteArray();
        using var ort = new OrtTensorBridge(bytes, threads: 1);
        using var module = OnnxGraphImporter.Import(student, "derived student");
        module.eval();
        foreach (var (rows, length) in new[] { (16, 32), (5, 12) })
        {
            using var scope = torch.NewDisposeScope();
            var inputs = Val(rows, length);
            var reference = ort.Run(inputs)["logits"];
            Assert.Equal(new long[] { rows, 12 }, reference.shape);
            using var noGrad = torch.no_grad();
            TensorAssert.Close(reference, module.Run(inputs)["logits"], 1e-4, $"derived student in TorchSharp vs ORT, length {length}");
        }
    }
}
