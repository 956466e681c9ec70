using ModelBuild.Compression.Distillation.Import;
using Onnx;
using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>When a BatchNorm is added after the student's convolutions for training (<c>--train-batchnorm</c>).</summary>
public enum TrainBatchNormMode
{
    /// <summary>For a student that starts from fresh weights (<c>--reinitialize</c>, or a derived MLP) and is not trained quantization-aware.</summary>
    Auto,
    On,
    Off,
}

/// <summary>
/// Train-time normalization for convolutional students. An exported (eval-mode) CNN has its BatchNorm folded into
/// the convolutions, so a student rebuilt from it trains without normalization, as its PyTorch original never did.
/// Before training, a BatchNormalization (scale 1, bias 0, running mean 0, variance 1, PyTorch's momentum 0.1) is
/// inserted after each Conv whose output no normalization reads; it trains on batch statistics, and at export it is
/// folded back into the Conv (W * s per output channel, (b - mean) * s + bias, s = scale / sqrt(var + eps)), so the
/// written graph has the nodes it had without (a Conv without a bias gains one).
/// </summary>
public static class TrainTimeBatchNorm
{
    const float Epsilon = 1e-5f;
    static readonly HashSet<string> Normalizations = new(StringComparer.Ordinal) { "BatchNormalization", "InstanceNormalization", "LayerNormalization", "GroupNormalization" };

    public static bool Applies(TrainBatchNormMode mode, bool freshWeights, bool quantizationAware) => mode switch
    {
        TrainBatchNormMode.On => true,
        TrainBatchNormMode.Off => false,
        // Fake quantization trains the Conv weights on the int8 grid; folding a BatchNorm afterwards would move them off it.
        _ => freshWeights && !quantizationAware,
    };

    /// <summary>Inserts the BatchNorms into <paramref name="model"/>; returns their node names (for <see cref="Fold"/>).</summary>
    public static IReadOnlyList<string> Insert(ModelProto model)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in graph.Node) foreach (var i in n.Input) uses[i] = uses.GetValueOrDefault(i) + 1;
        var inserted = new List<string>();
        var names = graph.Node.SelectMany(n => n.Output).Concat(initializers.Keys).ToHashSet(StringComparer.Ordinal);
        for (int index = 0; index < graph.Node.Count; index++)
        {
            var conv = graph.Node[index];
            if (conv.OpType != "Conv" || conv.Input.Count < 2 || conv.Output.Count != 1) continue;
            string output = conv.Output[0];
            if (graphOutputs.Contains(output)) continue;
            if (!initializers.TryGetValue(conv.Input[1], out var weight) || weight.DataType != (int)DataType.Float || uses[conv.Input[1]] != 1) continue;
            if (conv.Input.Count > 2 && conv.Input[2].Length > 0 && (!initializers.TryGetValue(conv.Input[2], out var b) || b.DataType != (int)DataType.Float || uses[conv.Input[2]] != 1)) continue;
            if (graph.Node.Any(n => n.Input.Contains(output) && Normalizations.Contains(n.OpType))) continue;

            long channels = weight.Dims[0];
            string Unique(string name) { var u = name; for (int k = 1; names.Contains(u); k++) u = $"{name}_{k}"; names.Add(u); return u; }
            string prefix = (conv.Name.Length > 0 ? conv.Name : output) + "/train_bn";
            string convOut = Unique(output + "/pre_train_bn");
            var bn = new NodeProto { OpType = "BatchNormalization", Name = Unique(prefix) };
            bn.Input.Add(convOut);
            foreach (var (role, value) in new[] { ("scale", 1f), ("bias", 0f), ("mean", 0f), ("var", 1f) })
            {
                var name = Unique($"{prefix}.{role}");
                using var t = torch.full(new[] { channels }, Kept.Of(value), ScalarType.Float32);
                graph.Initializer.Add(TensorProtoConverter.ToProto(t, name));
                bn.Input.Add(name);
            }
            bn.Output.Add(output);
            bn.Attribute.Add(new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = Epsilon });
            bn.Attribute.Add(new AttributeProto { Name = "momentum", Type = AttributeProto.Types.AttributeType.Float, F = 0.9f });
            conv.Output[0] = convOut;
            graph.Node.Insert(index + 1, bn);
            inserted.Add(bn.Name);
            index++;
        }
        return inserted;
    }

    /// <summary>Folds the inserted BatchNorms (trained scale, bias and running statistics) into their convolutions and removes them.</summary>
    public static void Fold(ModelProto model, IReadOnlyList<string> inserted)
    {
        if (inserted.Count == 0) return;
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        foreach (var name in inserted)
        {
            var bn = graph.Node.Single(n => n.Name == name);
            var conv = graph.Node.Single(n => n.Output.Count > 0 && n.Output[0] == bn.Input[0]);
            Tensor Value(string n) => TensorProtoConverter.ToTensor(initializers[n]).to_type(ScalarType.Float32);
            var scale = Value(bn.Input[1]); var shift = Value(bn.Input[2]); var mean = Value(bn.Input[3]); var variance = Value(bn.Input[4]);
            var s = scale.div(variance.add(Kept.Of(Epsilon), Kept.One).sqrt());
            var weight = initializers[conv.Input[1]];
            var w = Value(conv.Input[1]);
            var shape = w.shape.Select((d, i) => i == 0 ? d : 1L).ToArray();
            TensorProtoConverter.OverwriteValues(weight, w.mul(s.reshape(shape)));
            bool hasBias = conv.Input.Count > 2 && conv.Input[2].Length > 0;
            var b = hasBias ? Value(conv.Input[2]) : torch.zeros(s.shape[0]);
            var folded = b.sub(mean).mul(s).add(shift, Kept.One);
            if (hasBias) TensorProtoConverter.OverwriteValues(initializers[conv.Input[2]], folded);
            else
            {
                // The BatchNorm's bias initializer becomes the Conv's bias (its name is unique and about to be free).
                var biasName = bn.Input[2];
                TensorProtoConverter.OverwriteValues(initializers[biasName], folded);
                while (conv.Input.Count < 2) conv.Input.Add("");
                if (conv.Input.Count == 2) conv.Input.Add(biasName); else conv.Input[2] = biasName;
            }
            conv.Output[0] = bn.Output[0];
            graph.Node.Remove(bn);
            foreach (var input in bn.Input.Skip(1))
                if (!conv.Input.Contains(input)) graph.Initializer.Remove(initializers[input]);
        }
    }
}
