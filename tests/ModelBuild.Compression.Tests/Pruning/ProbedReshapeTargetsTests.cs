using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>
/// Reshape targets computed at run time in keras2onnx's Tensordot form become constants (from runs at two input sizes)
/// that keep batch and a dynamic sequence dynamic: the folded graph computes what the original does at other sizes than
/// the ones probed, and pruning then shrinks through them.
/// </summary>
public sealed class ProbedReshapeTargetsTests
{
    static readonly (int Batch, int Length)[] Sizes = [(1, 4), (3, 9)];

    static ModelProto Folded(ModelProto model, out int folded)
    {
        var copy = model.Clone();
        GraphNormalizer.Normalize(copy);
        folded = GraphNormalizer.FoldComputedReshapeTargets(copy, TensorShapeProbe.Run(copy)) + ProbedReshapeTargets.Fold(copy, m => TensorShapeProbe.Run(m));
        return copy;
    }

    static float[] Run(ModelProto model, float[] x, params long[] shape)
    {
        using var session = new InferenceSession(model.ToByteArray());
        using var input = OrtValue.CreateTensorValueFromMemory(x, shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], session.OutputNames);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    static float[] Input(int seed, params long[] shape) => TestMaterials.Random((int)shape.Aggregate(1L, (a, b) => a * b), seed, -1, 1);

    [Fact]
    public void Tensordot_targets_on_a_dynamic_sequence_fold_to_copies_and_constants_and_compute_the_same_at_other_lengths_and_batches()
    {
        var model = TensordotGraphs.FeedForward();
        var folded = Folded(model, out int count);

        Assert.Equal(6, count);
        Assert.DoesNotContain(folded.Graph.Node, n => n.OpType is "Shape" or "ReduceProd" or "Concat");
        var initializers = folded.Graph.Initializer.ToDictionary(t => t.Name);
        var targets = folded.Graph.Node.Where(n => n.OpType == "Reshape").Select(n => TensorData.ToInt64Array(initializers[n.Input[1]])).ToList();
        // Batch and sequence are copied (0); merge and split keep them (MatMul broadcasts over them); only the feature and
        // head counts are constants.
        Assert.Equal([[0, 0, 8], [0, 0, 16], [0, 0, 4, 4], [0, 0, 16], [0, 0, 16], [0, 0, 8]], targets);
        foreach (var (batch, length) in Sizes)
        {
            var x = Input(batch * 10 + length, batch, length, 8);
            var expected = Run(model, x, batch, length, 8);
            var actual = Run(folded, x, batch, length, 8);
            Assert.Equal(batch * length * 8, actual.Length);
            Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, 1e-5f));
        }
    }

    [Fact]
    public void Tensordot_FFN_neurons_are_pruned_and_the_pruned_graph_runs_at_two_lengths_and_two_batches()
    {
        var model = new OnnxModel(TensordotGraphs.FeedForward());
        var result = StructuredPruner.Prune(model, new PruningOptions { Fraction = 0.5 });

        var weights = result.Model.Proto.Graph.Initializer.Where(t => t.Dims.Count == 2).Select(t => t.Dims.ToArray()).ToList();
        Assert.Equal([[8, 8], [8, 8]], weights); // 4 heads of 4 hidden neurons -> 2, the model's input and output widths kept
        long Floats(ModelProto m) => m.Graph.Initializer.Where(t => t.DataType == (int)TensorProto.Types.DataType.Float).Sum(t => t.Dims.Aggregate(1L, (a, b) => a * b));
        Assert.Equal(Floats(model.Proto) - 8 * 8 - 8 - 8 * 8, Floats(result.Model.Proto));
        foreach (var (batch, length) in Sizes)
        {
            var y = Run(result.Model.Proto, Input(batch + length, batch, length, 8), batch, length, 8);
            Assert.Equal(batch * length * 8, y.Length);
            Assert.All(y, v => Assert.True(float.IsFinite(v)));
        }
    }

    [Fact]
    public void Bert_squad_keras2onnx_targets_fold_without_a_Shape_left_and_the_graph_computes_the_same_at_batch_1_and_3()
    {
        var file = TestMaterials.Model("bert-squad-keras2onnx-tiny");
        var folded = Folded(OnnxModel.Load(file).Proto, out int count);

        // Per layer: Q, K, V, attention output, FFN in and out, each Tensordot merge and split (12), and the attention's
        // split into heads (3) and merge back (1); the QA head's Tensordot (2).
        Assert.Equal(24 * 16 + 2, count);
        Assert.DoesNotContain(folded.Graph.Node, n => n.OpType == "Shape");
        var dir = TestMaterials.TempDir();
        var path = Path.Combine(dir, "folded.onnx");
        File.WriteAllBytes(path, folded.ToByteArray());
        foreach (int batch in new[] { 1, 3 })
        {
            var data = DataSource.ReadInputSet("generated:6", new DataReadOptions { ModelPath = file });
            using var teacher = new ModelRunner(file);
            using var student = new ModelRunner(path);
            var expected = teacher.RunAll(data, preferredBatch: batch);
            var actual = student.RunAll(data, preferredBatch: batch);
            Assert.Equal(["output_1", "output_2"], actual.Names);
            for (int o = 0; o < 2; o++)
            {
                Assert.Equal(6 * 7, actual.Values[o].Length);
                Assert.All(expected.Values[o].Zip(actual.Values[o]), p => Assert.Equal(p.First, p.Second, 1e-5f));
            }
        }
    }

    [Fact]
    public void MB0335_a_computed_split_that_no_constant_expresses_is_named()
    {
        var e = Assert.Throws<ModelBuildException>(() => StudentDeriver.Derive(TensordotGraphs.ConvWithUnfoldableSplit(), 0.5, 1.0, null, "convnet.onnx"));
        Assert.Equal("MB0335", e.Code);
        Assert.Contains("Reshape 'Reshape_", e.Message);
    }
}
