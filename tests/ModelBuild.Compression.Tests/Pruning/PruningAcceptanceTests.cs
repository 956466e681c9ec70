using ModelBuild.Compression.Pruning;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>The acceptance figures with recovery by distillation from the unpruned teacher.</summary>
[Trait("Category", "Acceptance")]
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
            EvaluationData = PruningMaterials.TeacherData(teacher, "test_x.npy"),
            EvaluationLabels = PruningMaterials.TeacherData(teacher, "test_y.npy"),
            LatencyRuns = 0,
        };
        var result = PruningSchedule.Run(model, options);
        output.WriteLine(result.ToMarkdown());
        var first = result.Steps[0];
        var last = result.Steps[^1];
        Assert.Equal(4, result.Steps.Count);
        Assert.True(first.Accuracy - last.Accuracy <= 1.0, $"accuracy {first.Accuracy} -> {last.Accuracy}");
        Assert.True(last.Parameters <= 0.10 * first.Parameters, $"parameters {first.Parameters} -> {last.Parameters}");
        Assert.All(last.Groups, g => Assert.Equal(26, g.UnitsAfter));
    }
}
