using Google.Protobuf;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Pruning;
using ModelBuild.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>
/// Structured pruning of intent-bert, a three-input Hugging Face-style BERT export (LayerNormalization, attention
/// Reshape targets computed from Shape/Gather/Concat): whole heads and FFN neurons go, and the pruned model runs in
/// ONNX Runtime with input_ids, attention_mask and token_type_ids at any sequence length.
/// </summary>
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public sealed class BertStructuredPruningTests
{
    static string T(string file) => ModelBuild.Compression.Tests.Distillation.SharedMaterials.Teachers("intent-bert", file);

    static Dictionary<string, Tensor> Val(int length) =>
        new[] { "input_ids", "attention_mask", "token_type_ids" }.ToDictionary(n => n, n =>
        {
            var a = NpyDataReader.ReadArray(T("val.npz") + ":" + n);
            return torch.tensor(a.ToInt64Array(), a.Shape).narrow(1, 0, length);
        });

    [Fact]
    public void Heads_and_FFN_neurons_of_intent_bert_are_pruned_and_the_model_runs_in_ORT()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var teacher = OnnxModel.Load(T("teacher.onnx"));
        var result = StructuredPruner.Prune(teacher, new PruningOptions { Fraction = 0.3 });
        var dims = result.Model.Proto.Graph.Initializer.ToDictionary(i => i.Name, i => i.Dims.ToArray());
        Assert.Equal(new long[] { 96 }, dims["layers.0.q.bias"]);   // 4 heads of 32 -> 3
        Assert.Equal(new long[] { 96 }, dims["layers.1.v.bias"]);
        Assert.True(dims["layers.0.fc1.bias"][0] < 512, $"FFN kept {dims["layers.0.fc1.bias"][0]} of 512 neurons");
        Assert.True(result.Model.ParameterCount < teacher.ParameterCount * 0.85);

        using var pruned = new OrtTensorBridge(result.Model.Proto.ToByteArray(), threads: 1);
        using var original = new OrtTensorBridge(T("teacher.onnx"), threads: 1);
        foreach (int length in new[] { 32, 14 })
        {
            using var scope = torch.NewDisposeScope();
            var inputs = Val(length);
            var logits = pruned.Run(inputs)["logits"];
            Assert.Equal(new long[] { 360, 12 }, logits.shape);
            // Magnitude pruning without recovery still mostly agrees with the teacher (chance is 1 in 12).
            double agreement = logits.argmax(1).eq(original.Run(inputs)["logits"].argmax(1)).to_type(ScalarType.Float64).mean().item<double>();
            Assert.True(agreement > 0.5, $"agreement {agreement:P1} at length {length}");
        }
    }
}
