namespace ModelBuild.IntegrationTests;

/// <summary>
/// Issue 9: "changing only Quantize on an already built item re-runs only quantization", on real `dotnet build`s of a
/// project whose item distills wine-mlp into its stated 13-16-3 student and quantizes it.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class StageCacheBuildTests(PackageFixture package)
{
    private static string Item(string quantize) => $"""
        <CompressModel Include="teacher.onnx" OutputName="models/wine.onnx" Distill="true" Student="student_scratch.onnx" Reinitialize="true"
                       TrainingData="train_x.npy" TrainingLabels="train_y.npy" Epochs="20" Threads="1"
                       Quantize="{quantize}" Force="true" EvaluationData="test_x.npy" EvaluationLabels="test_y.npy" />
        """;

    [Fact]
    public void Changing_only_Quantize_reruns_only_the_quantize_stage()
    {
        using var project = new ThrowAwayProject(package, Item("int8-dynamic"));
        foreach (var file in new[] { "student_scratch.onnx", "train_x.npy", "train_y.npy" })
        {
            File.Copy(Path.Combine(RepositoryPaths.WineTeacher, file), project.PathOf(file), overwrite: true);
            File.SetAttributes(project.PathOf(file), FileAttributes.Normal);
        }

        var first = project.Build();
        Assert.True(first.Succeeded, first.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, first.Output);
        Assert.Contains("models/wine.onnx: distill: starting", first.Output);
        Assert.Contains("models/wine.onnx: stage distill", first.Output);
        Assert.Contains("models/wine.onnx: stage quantize", first.Output);
        var firstModel = File.ReadAllBytes(project.PathOf("bin/Debug/net10.0/models/wine.onnx"));

        project.WriteProject(Item("int8-weights"));
        var second = project.Build();
        Assert.True(second.Succeeded, second.ToString());
        // The item's key changed (a new Quantize), so the worker runs; inside it only quantization does.
        Assert.Contains(ThrowAwayProject.WorkerStarted, second.Output);
        Assert.Matches(@"models/wine\.onnx: distill: cache hit [0-9a-f]{64}", second.Output);
        Assert.DoesNotContain("distill: starting", second.Output);
        Assert.DoesNotContain("distill: epoch", second.Output);
        Assert.Matches(@"models/wine\.onnx: quantize: cache miss [0-9a-f]{64}", second.Output);
        Assert.Contains("models/wine.onnx: quantize: starting", second.Output);
        var secondModel = File.ReadAllBytes(project.PathOf("bin/Debug/net10.0/models/wine.onnx"));
        Assert.NotEqual(firstModel, secondModel);
    }
}
