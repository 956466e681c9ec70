using Microsoft.Build.Utilities;
using ModelBuild.Tasks.Diagnostics;
using ModelBuild.Tasks.Recipe;

namespace ModelBuild.Tasks.Tests;

public sealed class RecipeFromItemTests : IDisposable
{
    private readonly string project = Directory.CreateTempSubdirectory("mb-recipe-").FullName;

    public RecipeFromItemTests()
    {
        File.WriteAllBytes(Path.Combine(project, "teacher.onnx"), [1, 2, 3]);
        Directory.CreateDirectory(Path.Combine(project, "Data"));
        File.WriteAllBytes(Path.Combine(project, "Data", "calib.npy"), [4, 5, 6]);
    }

    public void Dispose() => Directory.Delete(project, recursive: true);

    private static TaskItem Item(params (string Name, string Value)[] metadata)
    {
        var item = new TaskItem("teacher.onnx");
        foreach (var (name, value) in metadata) item.SetMetadata(name, value);
        return item;
    }

    [Fact]
    public void Teacher_endpoint_validation_and_batchnorm_metadata_reach_the_recipe_and_the_token_only_by_its_variable_name()
    {
        var recipe = RecipeFromItem.Build(Item(
            ("Distill", "true"), ("TeacherEndpoint", "https://models.example.com/v1/intent"), ("TeacherEndpointTokenEnv", "TEACHER_TOKEN"),
            ("TeacherEndpointHeader", "x-api-key"), ("TeacherMaxCalls", "200"), ("TeacherBatchSize", "32"), ("TeacherTimeout", "2.5"),
            ("ValidationSplit", "0.2"), ("Patience", "5"), ("Seeds", "3"), ("TrainBatchNorm", "Auto")), project);
        Assert.Equal("https://models.example.com/v1/intent", recipe.TeacherEndpoint);
        Assert.Equal("TEACHER_TOKEN", recipe.TeacherEndpointTokenEnv);
        Assert.Equal("x-api-key", recipe.TeacherEndpointHeader);
        Assert.Equal(200, recipe.TeacherMaxCalls);
        Assert.Equal(32, recipe.TeacherBatchSize);
        Assert.Equal(2.5, recipe.TeacherTimeout);
        Assert.Equal(0.2, recipe.ValidationSplit);
        Assert.Equal(5, recipe.Patience);
        Assert.Equal(3, recipe.Seeds);
        Assert.Equal("auto", recipe.TrainBatchNorm);
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("ValidationSplit", "1")), project));
        Assert.Contains("ValidationSplit", e.Message);
    }

    [Fact]
    public void WarmupFraction_metadata_reaches_the_recipe_checked_by_its_schema_line()
    {
        var recipe = RecipeFromItem.Build(Item(("Distill", "true"), ("WarmupFraction", "0.2")), project);
        Assert.Equal(0.2, recipe.Number(ModelBuild.Compression.Pipeline.Contract.RecipeSchema.WarmupFraction));
        Assert.Contains("\"warmupFraction\": 0.2", recipe.ToJson()); // what the worker reads
        Assert.Equal(TaskCodes.BadNumber, Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("WarmupFraction", "-0.1")), project)).Code);
    }

    [Fact]
    public void TuneSession_is_off_in_a_build_unless_the_item_asks_and_is_not_part_of_the_cache_key()
    {
        Assert.Equal("off", RecipeFromItem.Build(Item(), project).TuneSession);
        var auto = RecipeFromItem.Build(Item(("TuneSession", "Auto")), project);
        Assert.Equal("auto", auto.TuneSession);
        Assert.Equal(TaskCodes.UnknownValue, Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("TuneSession", "sometimes")), project)).Code);
        var versions = new ModelBuild.Compression.Pipeline.Contract.ToolVersions("0.1.0", "1.32.0", "0.107.0");
        Assert.Equal(ModelBuild.Compression.Pipeline.Contract.ContentKey.OfResult(RecipeFromItem.Build(Item(), project), versions),
                     ModelBuild.Compression.Pipeline.Contract.ContentKey.OfResult(auto, versions));
    }

    [Theory]
    [InlineData("int8-static", "int8-static")]
    [InlineData("Int8Static", "int8-static")]
    [InlineData("INT8_DYNAMIC", "int8-dynamic")]
    [InlineData("fp16", "fp16")]
    public void Quantize_uses_the_command_line_words_case_insensitively(string written, string expected)
    {
        var recipe = RecipeFromItem.Build(Item(("Quantize", written), ("CalibrationData", "Data/calib.npy")), project);
        Assert.Equal(expected, recipe.Quantize);
        Assert.Equal(Path.Combine(project, "Data", "calib.npy"), recipe.CalibrationData);
        Assert.Equal(Path.Combine(project, "teacher.onnx"), recipe.Teacher);
    }

    [Fact]
    public void Distill_and_prune_metadata_reach_the_recipe_with_project_relative_files()
    {
        File.WriteAllBytes(Path.Combine(project, "Data", "train_x.npy"), [7]);
        File.WriteAllBytes(Path.Combine(project, "Data", "train_y.npy"), [8]);
        File.WriteAllBytes(Path.Combine(project, "student.onnx"), [9]);
        var recipe = RecipeFromItem.Build(Item(
            ("Distill", "true"), ("Student", "student.onnx"), ("Reinitialize", "True"), ("TrainingData", "Data/train_x.npy"),
            ("TrainingLabels", "Data/train_y.npy"), ("Epochs", "40"), ("Temperature", "4"), ("Alpha", "0.9"), ("Dropout", "0.1"),
            ("QuantizationAware", "True"), ("Loss", "Feature"), ("FeaturePairs", "/h:/s"), ("Prune", "0.25"), ("PruneMode", "Structured"), ("PruneSteps", "3"),
            ("PruneExclude", "/classifier/*; fc1"), ("Optimize", "None")), project);
        Assert.True(recipe.Distill);
        Assert.True(recipe.Reinitialize);
        Assert.Equal(Path.Combine(project, "student.onnx"), recipe.Student);
        Assert.Equal(Path.Combine(project, "Data", "train_x.npy"), recipe.TrainingData);
        Assert.Equal(Path.Combine(project, "Data", "train_y.npy"), recipe.TrainingLabels);
        Assert.Equal(40, recipe.Epochs);
        Assert.Equal(0.1, recipe.Dropout);
        Assert.True(recipe.QuantizationAware);
        Assert.Equal("feature", recipe.Loss);
        Assert.Equal("/h:/s", recipe.FeaturePairs);
        Assert.Equal(0.25, recipe.Prune);
        Assert.Equal("structured", recipe.PruneMode);
        Assert.Equal("none", recipe.Optimize);
        Assert.Equal(3, recipe.PruneSteps);
        Assert.Equal(["/classifier/*", "fc1"], recipe.PruneExclude!);
        // Every data file the new stages read is part of the item's cache key.
        Assert.Contains(recipe.TrainingData, ModelBuild.Compression.Pipeline.Contract.ContentKey.InputFiles(recipe));
        Assert.Contains(recipe.TrainingLabels, ModelBuild.Compression.Pipeline.Contract.ContentKey.InputFiles(recipe));
        Assert.Contains(recipe.Student, ModelBuild.Compression.Pipeline.Contract.ContentKey.InputFiles(recipe));
    }

    [Fact]
    public void Derived_student_and_data_free_synthetic_metadata_reach_the_recipe()
    {
        var recipe = RecipeFromItem.Build(Item(
            ("Distill", "true"), ("StudentWidth", "0.5"), ("StudentDepth", "0.5"), ("StudentFfnWidth", "0.25"), ("Synthetic", "2000")), project);
        Assert.Equal(0.5, recipe.StudentWidth);
        Assert.Equal(0.5, recipe.StudentDepth);
        Assert.Equal(0.25, recipe.StudentFfnWidth);
        Assert.Equal(2000, recipe.Synthetic);
        Assert.Null(recipe.TrainingData); // no samples: the worker generates the inputs by DeepInversion
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("StudentFfnWidth", "1.5")), project));
        Assert.Equal(TaskCodes.BadNumber, e.Code);
    }

    [Fact]
    public void Data_folders_and_data_reading_metadata_reach_the_recipe()
    {
        Directory.CreateDirectory(Path.Combine(project, "Data", "digits", "0"));
        File.WriteAllBytes(Path.Combine(project, "Data", "table.csv"), [1]);
        var recipe = RecipeFromItem.Build(Item(
            ("EvaluationData", "Data/digits"), ("CalibrationData", "Data/digits"), ("TrainingData", "Data/table.csv"),
            ("LabelColumn", "species"), ("ImageScale", "0..255"), ("ImageMean", "0.485; 0.456; 0.406"), ("ImageStd", "0.229;0.224;0.225"),
            ("PadId", "3"), ("MetricOutput", "logits")), project);
        Assert.Equal(Path.Combine(project, "Data", "digits"), recipe.EvaluationData);
        Assert.Equal("logits", recipe.MetricOutput);
        Assert.Equal(Path.Combine(project, "Data", "digits"), recipe.CalibrationData);
        Assert.Equal("species", recipe.LabelColumn);
        Assert.Equal("0..255", recipe.ImageScale);
        Assert.Equal([0.485, 0.456, 0.406], recipe.ImageMean!);
        Assert.Equal([0.229, 0.224, 0.225], recipe.ImageStd!);
        Assert.Equal(3L, recipe.PadId);
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("ImageStd", "0.2;0")), project));
        Assert.Equal(TaskCodes.BadNumber, e.Code);
        Assert.Contains("ImageStd", e.Cause);
        Assert.Equal(TaskCodes.UnknownValue, Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("ImageScale", "0..9")), project)).Code);
        // Inputs generated from the model are no file.
        Assert.Equal("generated:16", RecipeFromItem.Build(Item(("CalibrationData", "generated:16")), project).CalibrationData);
        // A folder that does not exist is still a missing file.
        Assert.Equal(TaskCodes.MissingFile, Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("EvaluationData", "Data/none")), project)).Code);
    }

    [Fact]
    public void Text_metadata_reach_the_recipe_with_absolute_tokenizer_and_labels_paths()
    {
        Directory.CreateDirectory(Path.Combine(project, "Models"));
        File.WriteAllText(Path.Combine(project, "Models", "vocab.txt"), "[PAD]");
        File.WriteAllText(Path.Combine(project, "Models", "labels.json"), "[]");
        var recipe = RecipeFromItem.Build(Item(("Tokenizer", "Models/vocab.txt"), ("TextColumn", "text"), ("MaxLength", "32"), ("Labels", "Models/labels.json")), project);
        Assert.Equal(Path.Combine(project, "Models", "vocab.txt"), recipe.Tokenizer);
        Assert.Equal(Path.Combine(project, "Models", "labels.json"), recipe.Labels);
        Assert.Equal("text", recipe.TextColumn);
        Assert.Equal(32, recipe.MaxLength);
        Assert.Equal(TaskCodes.MissingFile, Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("Tokenizer", "Models/none.txt")), project)).Code);
        Assert.Equal(TaskCodes.BadNumber, Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("MaxLength", "0")), project)).Code);
    }

    [Fact]
    public void Unknown_value_is_MB0601_naming_item_and_metadata()
    {
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("Quantize", "int9")), project));
        Assert.Equal(TaskCodes.UnknownValue, e.Code);
        Assert.Contains("'teacher.onnx'", e.Cause);
        Assert.Contains("Quantize='int9'", e.Cause);
        Assert.Contains("int8-static", e.Remedy);
    }

    [Fact]
    public void Missing_data_file_is_MB0602_naming_item_and_metadata()
    {
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("Quantize", "int8-static"), ("CalibrationData", "Data/nope.npy")), project));
        Assert.Equal(TaskCodes.MissingFile, e.Code);
        Assert.Contains("'teacher.onnx'", e.Cause);
        Assert.Contains("CalibrationData 'Data/nope.npy'", e.Cause);
    }

    [Fact]
    public void Missing_teacher_is_MB0602()
    {
        var item = new TaskItem("Models/absent.onnx");
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(item, project));
        Assert.Equal(TaskCodes.MissingFile, e.Code);
        Assert.Contains("Models/absent.onnx", e.Cause);
    }

    [Theory]
    [InlineData("Prune", "1.5")]
    [InlineData("Prune", "half")]
    [InlineData("Epochs", "0")]
    [InlineData("Temperature", "-1")]
    [InlineData("MaxAccuracyDrop", "-0.5")]
    public void Bad_number_is_MB0603(string metadata, string value)
    {
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item((metadata, value)), project));
        Assert.Equal(TaskCodes.BadNumber, e.Code);
        Assert.Contains($"{metadata}='{value}'", e.Cause);
    }

    [Fact]
    public void Gate_without_evaluation_data_is_an_error()
    {
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("Quantize", "fp16"), ("MaxAccuracyDrop", "1")), project));
        Assert.Equal(TaskCodes.MissingFile, e.Code);
        Assert.Contains("EvaluationData", e.Cause);
    }

    [Fact]
    public void Recipe_file_is_the_base_paths_relative_to_it_and_metadata_override()
    {
        File.WriteAllText(Path.Combine(project, "Data", "wine.recipe.json"),
            """{ "quantize": "int8-static", "calibrationData": "calib.npy", "calibrationMethod": "Entropy", "seed": 7 }""");
        var recipe = RecipeFromItem.Build(Item(("Recipe", "Data/wine.recipe.json"), ("CalibrationMethod", "percentile")), project);
        Assert.Equal("int8-static", recipe.Quantize);
        Assert.Equal(Path.Combine(project, "Data", "calib.npy"), recipe.CalibrationData);
        Assert.Equal("percentile", recipe.CalibrationMethod);
        Assert.Equal(7, recipe.Seed);
    }

    [Fact]
    public void Invalid_recipe_file_is_MB0604()
    {
        File.WriteAllText(Path.Combine(project, "bad.json"), "{ \"quantize\": ");
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(Item(("Recipe", "bad.json")), project));
        Assert.Equal(TaskCodes.BadRecipe, e.Code);
        Assert.Contains("bad.json", e.Cause);
    }
}
