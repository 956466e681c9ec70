using ModelBuild.Compression.Distillation;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>The dropout default by kind of student (chosen on validation folds, benchmarks/RESULTS.md) and that training uses it.</summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class RegularizationDefaultsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mb-regdefaults-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Dropout_default_is_0_1_for_a_transformer_student_from_fresh_weights_only()
    {
        var transformer = OnnxModel.Load(new TeacherCase("synthetic-intent-transformer").StudentScratch).Proto;
        var mlp = OnnxModel.Load(new TeacherCase("wine-mlp").StudentScratch).Proto;
        Assert.Equal(0.1, RegularizationDefaults.Dropout(transformer, freshWeights: true));
        Assert.Equal(0, RegularizationDefaults.Dropout(transformer, freshWeights: false));
        Assert.Equal(0, RegularizationDefaults.Dropout(mlp, freshWeights: true));
    }

    [Fact]
    public void Distilling_without_a_dropout_trains_with_the_default_for_the_kind_of_student_and_reports_it()
    {
        DistillationResult Run(string name, bool reinitialize, double? dropout = null)
        {
            var c = new TeacherCase(name);
            return StudentDistiller.Distill(new DistillationOptions
            {
                TeacherPath = c.Teacher, StudentPath = c.StudentScratch, Reinitialize = reinitialize, OutputPath = Path.Combine(_dir, name + ".onnx"),
                TrainingData = c.File("train_x.npy"), TrainingLabels = c.File("train_y.npy"), Epochs = 1, Dropout = dropout, Seed = 0, Threads = 1,
            });
        }
        Assert.Equal(0.1, Run("synthetic-intent-transformer", reinitialize: true).Dropout);
        Assert.Equal(0, Run("synthetic-intent-transformer", reinitialize: false).Dropout);
        Assert.Equal(0, Run("wine-mlp", reinitialize: true).Dropout);
        Assert.Equal(0.3, Run("wine-mlp", reinitialize: true, dropout: 0.3).Dropout);
    }
}
