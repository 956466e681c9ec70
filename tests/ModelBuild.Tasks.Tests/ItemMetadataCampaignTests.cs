using CsCheck;
using Microsoft.Build.Utilities;
using ModelBuild.Tasks.Diagnostics;
using Xunit.Abstractions;

namespace ModelBuild.Tasks.Tests;

/// <summary>
/// The item-metadata part of the bad-input campaign (the rest is tests/ModelBuild.BadInputTests): generated
/// <c>&lt;CompressModel&gt;</c> metadata turned into a recipe and a cache key must give a recipe or a coded
/// <see cref="TaskDiagnosticException"/>, never another exception. Fixed seed; MODELBUILD_BADINPUT_SEED changes it.
/// </summary>
public sealed class ItemMetadataCampaignTests(ITestOutputHelper output) : IDisposable
{
    private readonly FakeWorkerProject project = new();

    public void Dispose() => project.Dispose();

    private static readonly string[] Names =
    [
        "Quantize", "CalibrationData", "CalibrationMethod", "Optimize", "Prune", "PruneMode", "PruneSteps", "PruneExclude", "Distill", "Student",
        "StudentWidth", "StudentDepth", "StudentFfnWidth", "TrainingData", "TrainingLabels", "Epochs", "BatchSize", "LearningRate",
        "Temperature", "Alpha", "Loss", "FeaturePairs", "Synthetic", "Reinitialize", "Dropout", "QuantizationAware", "EvaluationData",
        "EvaluationLabels", "MaxAccuracyDrop", "MinAgreement", "MaxLatencyMicroseconds", "Seed", "Threads", "LabelColumn", "ImageScale",
        "ImageMean", "ImageStd", "PadId", "Force", "Recipe", "TuneSession",
    ];

    private static readonly Gen<string> Value = Gen.OneOf(
        "", " ", "true", "false", "True", "0", "-1", "1", "0.5", "1,5", "1e308", "-1e308", "NaN", "Infinity", "2147483648", "99999999999999999999",
        "int8-static", "int9", "auto", "structured", "feature", "0..255", "0..1", "0.5;0.5", "a;b", "calib.npy", "missing.npy", "../../etc/passwd",
        ".", "teacher.onnx", "calib.npy:x", "recipe.json", "\u0000", "é", "$(Foo)", "%(Bar)", "label", "3");

    [Fact]
    public void Generated_item_metadata_gives_a_recipe_or_a_coded_diagnostic()
    {
        var seed = ulong.TryParse(Environment.GetEnvironmentVariable("MODELBUILD_BADINPUT_SEED"), out var s) ? s : 20261203UL;
        File.WriteAllText(Path.Combine(project.Project, "recipe.json"), """{ "quantize": "int8-dynamic", "epochs": "x" }""");
        var worker = project.Worker(FakeWorkerProject.Succeeds);
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var problems = new List<string>();
        const int cases = 300;
        for (var i = 0; i < cases; i++)
        {
            var pcg = new PCG((uint)i, seed);
            var item = project.Item();
            var changes = Gen.Int[1, 4].Generate(pcg, null, out _);
            for (var c = 0; c < changes; c++)
                item.SetMetadata(Gen.OneOf(Names).Generate(pcg, null, out _), Value.Generate(pcg, null, out _));
            // The real task (with the stand-in worker): what MSBuild would report for this item.
            string result;
            var engine = new RecordingBuildEngine();
            try
            {
                var succeeded = project.Task(engine, worker, null, item).Execute();
                var errors = engine.Errors.ToList();
                result = succeeded ? "built" : errors.Count > 0 && errors.All(e => e.Code is { Length: 6 } code && code.StartsWith("MB", StringComparison.Ordinal))
                    ? string.Join("+", errors.Select(e => e.Code).Distinct()) : "uncoded failure";
                if (result == "uncoded failure") problems.Add($"seed {seed} case {i}: failed without an MB code: {engine.AllText}");
            }
            catch (Exception e)
            {
                result = "unexpected";
                problems.Add($"seed {seed} case {i}: {e.GetType().Name}: {e.Message}");
            }
            // A new case starts from nothing: no output, stamp or cache entry of the previous one.
            foreach (var dir in new[] { Path.Combine(project.Project, "obj") }.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);
            counts[result] = counts.GetValueOrDefault(result) + 1;
        }
        output.WriteLine($"seed {seed}: {cases} items; " + string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}")));
        foreach (var p in problems.Take(10)) output.WriteLine(p);
        Assert.Empty(problems);
    }
}
