using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Onnx;
using TorchSharp;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Distillation.Students;

/// <summary>
/// Train-time BatchNorm for convolutional students (mnist-cnn-pytorch, whose export has its BatchNorms folded away):
/// inserted after each Conv, trained, folded back at export into the same nodes, with the outputs ONNX Runtime gives
/// for the unfolded graph.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class TrainTimeBatchNormTests(ITestOutputHelper output)
{
    static readonly string Cnn = TestMaterials.Model("mnist-cnn-pytorch");
    static float Scale(byte p) => (p / 255f - 0.1307f) / 0.3081f;

    static float[] Run(byte[] model, float[] x, int rows)
    {
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(x, new long[] { rows, 1, 28, 28 });
        using var run = new RunOptions();
        using var outputs = session.Run(run, new[] { session.InputNames[0] }, new[] { input }, new[] { session.OutputNames[0] });
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void Folding_trained_statistics_into_the_convolutions_gives_the_same_outputs_and_the_same_nodes()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var model = OnnxModel.Load(Cnn);
        DynamicBatch.Apply(model.Proto);
        var opTypes = model.Proto.Graph.Node.Select(n => n.OpType).ToList();
        var inserted = TrainTimeBatchNorm.Insert(model.Proto);
        Assert.Equal(model.Proto.Graph.Node.Count(n => n.OpType == "Conv"), inserted.Count);
        Assert.Equal(opTypes.Count + inserted.Count, model.Proto.Graph.Node.Count);

        // Statistics and affine parameters as training leaves them (not the identity they start as).
        var byName = model.Proto.Graph.Initializer.ToDictionary(i => i.Name);
        var random = new Random(7);
        foreach (var node in model.Proto.Graph.Node.Where(n => inserted.Contains(n.Name)))
            for (int i = 1; i <= 4; i++)
            {
                var proto = byName[node.Input[i]];
                var values = Enumerable.Range(0, (int)proto.Dims[0]).Select(_ => i == 4 ? 0.2f + 2 * random.NextSingle() : 2 * random.NextSingle() - 1).ToArray();
                TensorProtoConverter.OverwriteValues(proto, torch.tensor(values));
            }
        var (x, _) = TestMaterials.Mnist(0, 16, Scale);
        var withNorms = Run(model.ToBytes(), x, 16);
        TrainTimeBatchNorm.Fold(model.Proto, inserted);
        var folded = Run(model.ToBytes(), x, 16);

        Assert.Equal(opTypes, model.Proto.Graph.Node.Select(n => n.OpType));
        Assert.DoesNotContain(model.Proto.Graph.Initializer, i => i.Name.Contains("train_bn.scale", StringComparison.Ordinal));
        for (int i = 0; i < withNorms.Length; i++)
            Assert.True(Math.Abs(withNorms[i] - folded[i]) <= 1e-4 * (1 + Math.Abs(withNorms[i])), $"output {i}: {withNorms[i]} with BatchNorm, {folded[i]} folded");
    }

    [Fact]
    public void A_half_width_cnn_student_trains_with_batchnorm_and_is_written_with_the_teachers_nodes()
    {
        var dir = TestMaterials.TempDir();
        var (x, y) = TestMaterials.Mnist(0, 1000, Scale);
        var (testX, testY) = TestMaterials.Mnist(5000, 500, Scale);
        var train = TestMaterials.SaveNpy(dir, "x.npy", x, 1000, 1, 28, 28);
        var labels = TestMaterials.SaveNpy(dir, "y.npy", y, 1000);
        DistillationResult Distill(string file, TrainBatchNormMode mode) => StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = Cnn, StudentWidth = 0.5, OutputPath = Path.Combine(dir, file), TrainingData = train, TrainingLabels = labels,
            Epochs = 10, BatchSize = 64, TrainBatchNorm = mode, Threads = 1, Seed = 0, Reinitialize = true,
        });
        // --reinitialize: a derived student from fresh weights, the case auto inserts BatchNorms for (a derived student
        // otherwise starts from the teacher's weights, trained with the teacher's folded normalization).
        var withNorms = Distill("bn.onnx", TrainBatchNormMode.Auto);
        var without = Distill("plain.onnx", TrainBatchNormMode.Off);
        Assert.True(withNorms.TrainTimeBatchNorms > 0);
        Assert.Equal(0, without.TrainTimeBatchNorms);

        var bn = OnnxModel.Load(Path.Combine(dir, "bn.onnx")).Proto;
        var plain = OnnxModel.Load(Path.Combine(dir, "plain.onnx")).Proto;
        Assert.Equal(plain.Graph.Node.Select(n => n.OpType), bn.Graph.Node.Select(n => n.OpType));
        Assert.Equal(plain.Graph.Input.Select(i => i.Name), bn.Graph.Input.Select(i => i.Name));

        double Accuracy(string file)
        {
            var model = OnnxModel.Load(Path.Combine(dir, file)); // written with the teacher's batch-1 interface
            DynamicBatch.Apply(model.Proto);
            var logits = Run(model.ToBytes(), testX, 500);
            int classes = logits.Length / 500;
            return Enumerable.Range(0, 500).Count(i => logits.AsSpan(i * classes, classes).IndexOf(logits.AsSpan(i * classes, classes).ToArray().Max()) == testY[i]) / 500.0;
        }
        double a = Accuracy("bn.onnx"), b = Accuracy("plain.onnx");
        output.WriteLine($"half-width student, 1000 images, 10 epochs: with train-time BatchNorm {a:P1}, without {b:P1} (500 held-out images)");
        // It learns and the folded export runs (chance is 10%); whether it beats training without is a benchmark
        // question (RESULTS.md): on this small run it does after 3 epochs (54.6% vs 38.4%) and not after 10 (64.8% vs 70.6%).
        Assert.True(a >= 0.5, $"with train-time BatchNorm {a:P1}");
    }
}
