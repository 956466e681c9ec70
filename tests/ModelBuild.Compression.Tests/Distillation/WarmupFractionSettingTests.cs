using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// --warmup-fraction (WarmupFraction), a setting with no CompressionRecipe property: it travels through the recipe JSON
/// (file, worker) and the distill stage's cache inputs, its default is the schema's (the 6% the distiller always used),
/// and a value given changes the trained student.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class WarmupFractionSettingTests(ITestOutputHelper output) : IDisposable
{
    static readonly TeacherCase Wine = new("wine-mlp");
    readonly string _dir = Directory.CreateTempSubdirectory("mb-warmup-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    CompressionRecipe Recipe(string name) => new()
    {
        Teacher = Wine.Teacher, Output = Path.Combine(_dir, name), Distill = true, Student = Wine.StudentScratch, Reinitialize = true,
        TrainingData = Wine.File("train_x.npy"), TrainingLabels = Wine.File("train_y.npy"), Epochs = 3, Seed = 1,
    };

    [Fact]
    public void Train_time_batchnorm_is_auto_when_the_recipe_leaves_it_unset()
    {
        // Not a warm-up setting, but the same path from recipe to distiller: unset means auto (a convolutional student
        // from fresh weights trains with BatchNorm), "off" turns it off.
        Assert.Equal(TrainBatchNormMode.Auto, DistillStage.Options(Recipe("a.onnx"), Wine.Teacher, "o.onnx", 1).TrainBatchNorm);
        Assert.Equal(TrainBatchNormMode.Auto, new DistillationOptions { TeacherPath = "t.onnx", OutputPath = "o.onnx" }.TrainBatchNorm);
        var off = Recipe("b.onnx");
        off.TrainBatchNorm = "off";
        Assert.Equal(TrainBatchNormMode.Off, DistillStage.Options(off, Wine.Teacher, "o.onnx", 1).TrainBatchNorm);
    }

    [Fact]
    public void The_recipe_json_carries_it_checked_and_an_unset_value_leaves_the_json_and_keys_as_before()
    {
        var unset = Recipe("a.onnx");
        Assert.DoesNotContain("warmupFraction", unset.ToJson());
        Assert.DoesNotContain("warmupFraction", RecipeSchema.StageInputs(RecipeSchema.Distill, unset).Settings.Keys);
        Assert.Equal(0.06, unset.Number(RecipeSchema.WarmupFraction));

        var set = CompressionRecipe.FromJson("""{ "teacher": "t.onnx", "distill": true, "WarmupFraction": 0.25 }""");
        Assert.Equal(0.25, set.Number(RecipeSchema.WarmupFraction));
        var again = CompressionRecipe.FromJson(set.ToJson());
        Assert.Equal(set.ToJson(), again.ToJson());
        Assert.Contains("\"warmupFraction\": 0.25", again.ToJson());
        Assert.Equal(0.25, RecipeSchema.StageInputs(RecipeSchema.Distill, again).Settings["warmupFraction"]);
        Assert.DoesNotContain("warmupFraction", RecipeSchema.StageInputs(RecipeSchema.Quantize, again).Settings.Keys);
        Assert.Equal(0.25, DistillStage.Options(again, Wine.Teacher, "o.onnx", 1).WarmupFraction);

        Assert.Contains("warmupFraction='1.5'", Assert.Throws<System.Text.Json.JsonException>(() => CompressionRecipe.FromJson("""{ "warmupFraction": 1.5 }""")).Message);
        Assert.Throws<System.Text.Json.JsonException>(() => CompressionRecipe.FromJson("""{ "warmupFraction": "half" }"""));
        Assert.Throws<System.Text.Json.JsonException>(() => CompressionRecipe.FromJson("""{ "warmupFractions": 0.5 }"""));
    }

    [Fact]
    public void The_distill_stage_trains_with_the_fraction_given_and_the_schema_default_is_the_old_behaviour()
    {
        var pipeline = new CompressionPipeline(StageCatalog.All()) { LatencyRuns = 0 };
        var byDefault = Recipe("default.onnx");
        var defaultDetails = pipeline.Run(byDefault, new WorkerProtocolLog(TextWriter.Null)).Stages[0].Details!;
        Assert.Equal(0.06, defaultDetails["warmupFraction"]!.GetValue<double>());

        // The stage passes the distiller its own default (what every build trained with before the setting existed); the
        // byte-identity suite (benchmarks/byte-identity) showed the same bytes as before the setting.
        var engine = DistillStage.Options(byDefault, Wine.Teacher, Path.Combine(_dir, "engine.onnx"), Environment.ProcessorCount);
        Assert.Equal(new DistillationOptions { TeacherPath = "t", OutputPath = "o" }.WarmupFraction, engine.WarmupFraction);

        var half = Recipe("half.onnx");
        RecipeSchema.WarmupFraction.Set(half, 0.5);
        var halfDetails = pipeline.Run(half, new WorkerProtocolLog(TextWriter.Null)).Stages[0].Details!;
        output.WriteLine($"default: {defaultDetails["finalTrainLoss"]}, 0.5: {halfDetails["finalTrainLoss"]}");
        Assert.Equal(0.5, halfDetails["warmupFraction"]!.GetValue<double>());
        Assert.NotEqual(File.ReadAllBytes(byDefault.Output), File.ReadAllBytes(half.Output));
    }
}
