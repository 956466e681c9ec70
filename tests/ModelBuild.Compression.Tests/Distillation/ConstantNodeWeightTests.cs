using Google.Protobuf;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Onnx;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// Weights held by Constant nodes (as converter exports write them) are trainable parameters of the imported module
/// and the exporter writes the trained values back into those nodes. The graph is intent-bert's student with every
/// float initializer moved into a Constant node; both forms run in ONNX Runtime with the three inputs of val.npz.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class ConstantNodeWeightTests
{
    static ModelProto WithConstantWeights(string path, out int moved)
    {
        var proto = OnnxModel.Load(path).Proto.Clone();
        var weights = proto.Graph.Initializer.Where(i => i.DataType == (int)TensorProto.Types.DataType.Float && i.Dims.Aggregate(1L, (a, b) => a * b) > 1).ToList();
        int at = 0;
        foreach (var w in weights)
        {
            proto.Graph.Initializer.Remove(w);
            var node = new NodeProto { OpType = "Constant", Name = "const_" + w.Name, Output = { w.Name } };
            var value = w.Clone();
            value.Name = "";
            node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });
            proto.Graph.Node.Insert(at++, node);
        }
        moved = weights.Count;
        return proto;
    }

    static Dictionary<string, Tensor> ValRows(int rows) =>
        new[] { "input_ids", "attention_mask", "token_type_ids" }.ToDictionary(n => n, n =>
        {
            var a = NpyDataReader.ReadArray(SharedMaterials.Teachers("intent-bert", "val.npz") + ":" + n);
            return torch.tensor(a.ToInt64Array(), a.Shape).slice(0, 0, rows, 1);
        });

    [Fact]
    public void Constant_node_weights_train_and_are_written_back()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var path = SharedMaterials.Teachers("intent-bert", "student_scratch.onnx");
        int initializerWeights;
        using (var plain = OnnxGraphImporter.Import(path)) initializerWeights = plain.OnnxParameters.Count;
        var proto = WithConstantWeights(path, out int moved);
        Assert.True(moved > 10, $"only {moved} weights moved");

        using var module = OnnxGraphImporter.Import(proto, "student with constant weights");
        Assert.Equal(moved, module.ConstantWeights.Count);
        Assert.Equal(initializerWeights, module.OnnxParameters.Count);
        module.eval();
        var inputs = ValRows(16);
        using (var ort = new OrtTensorBridge(proto.ToByteArray(), threads: 1))
        using (torch.no_grad())
            TensorAssert.Close(ort.Run(inputs)["logits"], module.Run(inputs)["logits"], 1e-4, "constant-weight student vs ONNX Runtime");

        // One optimizer step changes the Constant-node weights.
        torch.manual_seed(3);
        using var optimizer = torch.optim.AdamW(module.parameters(), 0.01);
        var loss = module.Run(inputs)["logits"].pow(2).mean();
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();

        var exported = OnnxStudentExporter.ToOnnx(module).Proto;
        Assert.DoesNotContain(exported.Graph.Initializer, i => i.DataType == (int)TensorProto.Types.DataType.Float && i.Dims.Aggregate(1L, (a, b) => a * b) > 1);
        int changed = exported.Graph.Node.Zip(proto.Graph.Node).Count(p => p.First.OpType == "Constant" && !p.First.Attribute[0].T.Equals(p.Second.Attribute[0].T));
        Assert.Equal(moved, changed);
        using var exportedOrt = new OrtTensorBridge(exported.ToByteArray(), threads: 1);
        using var noGrad = torch.no_grad();
        TensorAssert.Close(module.Run(inputs)["logits"], exportedOrt.Run(inputs)["logits"], 1e-4, "exported constant-weight student in ONNX Runtime vs its module");
    }
}
