using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx.Diagnostics;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// Selection on validation: rows held out by a deterministic split, the best epoch (agreement with the teacher, then
/// validation loss) written, several seeds trained on the same split and the best kept; the pipeline's default split
/// of 0.1 and its report of each seed's figures.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class ValidationSelectionTests(ITestOutputHelper output) : IDisposable
{
    static readonly TeacherCase Wine = new("wine-mlp");
    readonly string _dir = Directory.CreateTempSubdirectory("mb-validation-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    DistillationOptions Options(string name, int seeds, int seed = 0, double split = 0.2) => new()
    {
        TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, Reinitialize = true, OutputPath = Path.Combine(_dir, name),
        TrainingData = Wine.File("train_x.npy"), TrainingLabels = Wine.File("train_y.npy"),
        Epochs = 40, WeightDecay = 0, WarmupFraction = 0, ValidationFraction = split, Seeds = seeds, Seed = seed,
    };

    [Fact]
    public void Several_seeds_train_on_one_split_and_the_best_on_validation_is_written()
    {
        var many = StudentDistiller.Distill(Options("many.onnx", seeds: 3));
        foreach (var run in many.SeedRuns!) output.WriteLine(run.ToString());
        Assert.Equal([0, 1, 2], many.SeedRuns!.Select(r => r.Seed));
        Assert.All(many.SeedRuns!, r => Assert.NotNull(r.ValidationAccuracy));
        var best = many.SeedRuns!.Single(r => r.Seed == many.SelectedSeed);
        Assert.All(many.SeedRuns!, r => Assert.True(r.ValidationAgreement < best.ValidationAgreement
            || (r.ValidationAgreement == best.ValidationAgreement && r.ValidationLoss >= best.ValidationLoss), $"seed {r.Seed} beats the kept seed {best.Seed}"));
        Assert.Equal(best.ValidationAgreement, many.ValidationAgreement);
        Assert.True(File.Exists(many.OutputPath));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));

        // Seed 1 alone (split by seed 0 as in the run above) trains the same student as the second of the three.
        var single = StudentDistiller.Distill(Options("single.onnx", seeds: 1, seed: 0) is var o ? new DistillationOptions
        {
            TeacherPath = o.TeacherPath, StudentPath = o.StudentPath, Reinitialize = true, OutputPath = o.OutputPath, TrainingData = o.TrainingData,
            TrainingLabels = o.TrainingLabels, Epochs = o.Epochs, WeightDecay = 0, WarmupFraction = 0, ValidationFraction = o.ValidationFraction, Seed = 0,
        } : null!);
        Assert.Equal(many.SeedRuns![0] with { TrainingSeconds = 0 }, single.SeedRuns![0] with { TrainingSeconds = 0 });
    }

    [Fact]
    public void Several_seeds_without_validation_rows_are_refused()
    {
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(Options("x.onnx", seeds: 2, split: 0)));
        Assert.Equal("MB0308", e.Code);
        Assert.Contains("--validation-split", e.Message);
    }

    [Fact]
    public void The_pipeline_holds_out_a_tenth_by_default_and_reports_each_seed()
    {
        CompressionRecipe Recipe(double? split, int? seeds) => new()
        {
            Teacher = Wine.Teacher, Output = Path.Combine(_dir, "out.onnx"), Distill = true, Student = Wine.StudentScratch, Reinitialize = true,
            TrainingData = Wine.File("train_x.npy"), TrainingLabels = Wine.File("train_y.npy"), Epochs = 30, ValidationSplit = split, Seeds = seeds,
        };
        var pipeline = new CompressionPipeline(StageCatalog.All()) { LatencyRuns = 0 };
        var defaults = pipeline.Run(Recipe(null, null), new WorkerProtocolLog(TextWriter.Null)).Stages[0].Details!;
        Assert.Equal(0.1, defaults["validationSplit"]!.GetValue<double>());
        Assert.Equal(12, defaults["validationSamples"]!.GetValue<int>()); // 124 training rows
        Assert.NotNull(defaults["validationAgreement"]);
        Assert.Null(defaults["seeds"]);

        var none = pipeline.Run(Recipe(0, null), new WorkerProtocolLog(TextWriter.Null)).Stages[0].Details!;
        Assert.Equal(0, none["validationSamples"]!.GetValue<int>());
        Assert.Equal(30, none["selectedEpoch"]!.GetValue<int>()); // no validation rows: the last epoch, as before
        Assert.Null(none["validationAgreement"]);

        var seeds = pipeline.Run(Recipe(null, 2), new WorkerProtocolLog(TextWriter.Null)).Stages[0].Details!;
        output.WriteLine(seeds.ToJsonString());
        var runs = seeds["seeds"]!.AsArray();
        Assert.Equal(2, runs.Count);
        Assert.All(runs, r => { Assert.NotNull(r!["validationAgreement"]); Assert.NotNull(r["validationAccuracy"]); Assert.NotNull(r["epochsRun"]); });
        Assert.Contains(seeds["selectedSeed"]!.GetValue<int>(), new[] { 0, 1 });
    }
}
