using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>The acceptance figures with recovery by distillation from the unpruned teacher.</summary>
[Trait("Category", "Acceptance")]
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public class PruningAcceptanceTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("wine-mlp")]
    [InlineData("breast-cancer-mlp")]
    public void Mlp_teacher_90_percent_of_hidden_neurons_with_recovery(string teacher)
    {
        string dir = PruningMaterials.Shared("teachers", teacher);
        var model = PruningMaterials.Teacher(teacher);
        var options = new PruningScheduleOptions
        {
            Pruning = new PruningOptions { Fraction = 0.9 },
            Steps = 3,
            Recovery = new DistillationRecovery(Path.Combine(dir, "teacher.onnx"), Path.Combine(dir, "train_x.npy"), Path.Combine(dir, "train_y.npy"),
                new RecoveryTraining { Epochs = 30, BatchSize = 16, LearningRate = 3e-3, Threads = 1 }),
            Evaluator = new ModelEvaluator(PruningMaterials.TeacherData(teacher, "test_x.npy"), PruningMaterials.TeacherData(teacher, "test_y.npy")),
            LatencyRuns = 0,
        };
        var result = PruningSchedule.Run(model, options);
        output.WriteLine(result.ToMarkdown());
        var first = result.Steps[0];
        var last = result.Steps[^1];
        PrunedShapeCheck.AssertInfersConsistently(result.Model);
        Assert.Equal(4, result.Steps.Count);
        Assert.True(first.Accuracy - last.Accuracy <= 1.0, $"accuracy {first.Accuracy} -> {last.Accuracy}");
        Assert.True(last.Parameters <= 0.10 * first.Parameters, $"parameters {first.Parameters} -> {last.Parameters}");
        Assert.All(last.Groups, g => Assert.Equal(26, g.UnitsAfter));
    }
}

[Trait("Category", "Acceptance")]
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public class CnnPruningAcceptanceTests(ITestOutputHelper output)
{
    [Fact]
    public void Mnist_cnn_half_the_channels_and_neurons_with_recovery_on_the_first_8000_images()
    {
        var (x, y) = PruningMaterials.MnistT10k();
        string folder = Path.Combine(Path.GetTempPath(), "mb-prune-mnist-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string trainX = Path.Combine(folder, "train_x.npy"), trainY = Path.Combine(folder, "train_y.npy");
            PruningMaterials.Save(MnistReader.Rows(x, 0, 8000), trainX);
            PruningMaterials.Save(MnistReader.Rows(y, 0, 8000), trainY);
            var model = PruningMaterials.Model("mnist-cnn-pytorch");
            var options = new PruningScheduleOptions
            {
                Pruning = new PruningOptions { Fraction = 0.5 },
                Steps = 1,
                Recovery = new DistillationRecovery(model.FilePath!, trainX, trainY,
                    new RecoveryTraining { Epochs = 1, BatchSize = 64, LearningRate = 2e-3, Threads = 2 }),
                Evaluator = new ModelEvaluator(MnistReader.Rows(x, 8000, 2000), MnistReader.Rows(y, 8000, 2000)),
                LatencyRuns = 0,
            };
            var result = PruningSchedule.Run(model, options);
            output.WriteLine(result.ToMarkdown());
            var first = result.Steps[0];
            var last = result.Steps[^1];
            PrunedShapeCheck.AssertInfersConsistently(result.Model);
            Assert.Equal(new[] { (10, 5), (20, 10), (50, 25) }, last.Groups.Select(g => (g.UnitsBefore, g.UnitsAfter)));
            // Recovery trains in batches but hands back the model's own interface: input [1,1,28,28].
            Assert.Equal(1, result.Model.Proto.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimValue);
            Assert.True(first.Accuracy - last.Accuracy <= 0.5, $"accuracy {first.Accuracy} -> {last.Accuracy}");
            // Halving every layer at once costs a lot before recovery; the distillation is what brings it back.
            Assert.True(last.Accuracy - last.AccuracyBeforeRecovery > 5, $"recovery {last.AccuracyBeforeRecovery} -> {last.Accuracy}");
            Assert.True(last.Parameters <= 0.35 * first.Parameters, $"parameters {first.Parameters} -> {last.Parameters}");
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }
}

[Trait("Category", "Acceptance")]
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public class TransformerPruningAcceptanceTests(ITestOutputHelper output)
{
    private const string Teacher = "synthetic-intent-transformer";

    /// <summary>
    /// Recovery runs on the first 1,024 training rows for one epoch to keep the suite within its time budget; the
    /// full-data figures (and latency) are in benchmarks/RESULTS.md.
    /// </summary>
    [Fact]
    public void Half_the_heads_and_ffn_neurons_with_recovery()
    {
        string folder = Path.Combine(Path.GetTempPath(), "mb-prune-intent-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string trainX = Path.Combine(folder, "train_x.npy"), trainY = Path.Combine(folder, "train_y.npy");
            PruningMaterials.Save(MnistReader.Rows(PruningMaterials.TeacherData(Teacher, "train_x.npy"), 0, 1024), trainX);
            PruningMaterials.Save(MnistReader.Rows(PruningMaterials.TeacherData(Teacher, "train_y.npy"), 0, 1024), trainY);
            var options = new PruningScheduleOptions
            {
                Pruning = new PruningOptions { Fraction = 0.5 },
                Steps = 1,
                Recovery = new DistillationRecovery(PruningMaterials.Shared("teachers", Teacher, "teacher.onnx"), trainX, trainY,
                    new RecoveryTraining { Epochs = 1, BatchSize = 32, LearningRate = 5e-4, Threads = 2 }),
                Evaluator = new ModelEvaluator(PruningMaterials.TeacherData(Teacher, "test_x.npy"), PruningMaterials.TeacherData(Teacher, "test_y.npy")),
                LatencyRuns = 0,
            };
            var result = PruningSchedule.Run(PruningMaterials.Teacher(Teacher), options);
            output.WriteLine(result.ToMarkdown());
            var first = result.Steps[0];
            var last = result.Steps[^1];
            PrunedShapeCheck.AssertInfersConsistently(result.Model);
            Assert.Equal(2, last.Groups.Count(g => g is { Kind: PruningUnitKind.Heads, UnitsAfter: 2 }));
            Assert.Equal(2, last.Groups.Count(g => g is { Kind: PruningUnitKind.Neurons, UnitsAfter: 256 }));
            Assert.True(first.Accuracy - last.Accuracy <= 1.0, $"accuracy {first.Accuracy} -> {last.Accuracy}");
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }
}
