using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx;
using Onnx;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>
/// <c>--prune 0.5</c> on bert-squad-keras2onnx-tiny, whose attention and FFN reshapes are keras2onnx Tensordots computed
/// at run time: once they are folded into constants, every layer loses one of its two heads and half of its 32 FFN
/// neurons (the hidden size is kept unless asked for), and the pruned model runs in ONNX Runtime with every input and
/// both outputs at several batch sizes.
/// </summary>
public sealed class BertSquadPruningTests
{
    static long FloatParameters(ModelProto m) => m.Graph.Initializer
        .Where(i => i.DataType == (int)TensorProto.Types.DataType.Float && i.Dims.Aggregate(1L, (p, d) => p * d) > 1)
        .Sum(i => i.Dims.Aggregate(1L, (p, d) => p * d));

    [Fact]
    public void Prune_removes_a_head_and_half_the_FFN_of_each_of_the_24_layers_and_runs_in_ORT()
    {
        var teacher = TestMaterials.Model("bert-squad-keras2onnx-tiny");
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe { Teacher = teacher, Output = Path.Combine(dir, "pruned.onnx"), Prune = 0.5 };
        TestMaterials.Run(recipe);

        var pruned = OnnxModel.Load(recipe.Output).Proto;
        var biases = pruned.Graph.Initializer.Where(i => i.Name.Contains("/BiasAdd/")).GroupBy(i => i.Dims[0]).ToDictionary(g => g.Key, g => g.Count());
        // One head of 4 kept: Q, K, V biases of 4 (72); FFN biases of 16 (24); attention and FFN output biases of 8 (48);
        // the QA head's start and end logits (2).
        Assert.Equal(new Dictionary<long, int> { [4] = 72, [16] = 24, [8] = 48, [2] = 1 }, biases);
        // Per layer: the removed head's Q, K, V columns and biases (3 x (8 x 4 + 4)) and O rows (4 x 8); 16 FFN neurons
        // (8 x 16 + 16 in, 16 x 8 out).
        const long perLayer = 3 * (8 * 4 + 4) + 4 * 8 + 8 * 16 + 16 + 16 * 8;
        Assert.Equal(FloatParameters(OnnxModel.Load(teacher).Proto) - 24 * perLayer, FloatParameters(pruned));

        var data = DataSource.ReadInputSet("generated:6", new DataReadOptions { ModelPath = teacher });
        using var runner = new ModelRunner(recipe.Output);
        Assert.Equal(["attention_mask", "input_ids", "token_type_ids"], runner.InputNames);
        float[][]? first = null;
        foreach (int batch in new[] { 1, 3 })
        {
            var outputs = runner.RunAll(data, preferredBatch: batch);
            Assert.Equal(["output_1", "output_2"], outputs.Names);
            Assert.All(outputs.Values, v => Assert.Equal(6 * 7, v.Length));
            Assert.All(outputs.Values, v => Assert.All(v, x => Assert.True(float.IsFinite(x))));
            // A folded reshape target that kept the probe's batch would mix rows at another batch size.
            first ??= outputs.Values.Select(v => v.ToArray()).ToArray();
            for (int o = 0; o < first.Length; o++)
                for (int i = 0; i < first[o].Length; i++)
                    Assert.True(Math.Abs(first[o][i] - outputs.Values[o][i]) <= 1e-4f, $"batch {batch}: {outputs.Names[o]}[{i}] {outputs.Values[o][i]} vs {first[o][i]} at batch 1");
        }
    }
}
