using System.Globalization;
using System.Text.RegularExpressions;

namespace ModelBuild.IntegrationTests;

/// <summary>
/// samples/IntentRouter end to end, as shipped: built against the package under test (its CompressModel item distills
/// the intent transformer into the 1-layer student, prunes it and quantizes it to int8: several minutes of training),
/// then the app run on the result: test-split accuracy, latency lines, and fixed requests routed to the right intents.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed partial class IntentRouterTests(PackageFixture package)
{
    /// <summary>The teacher's accuracy on the test split (../shared/teachers/synthetic-intent-transformer/reference.json).</summary>
    private const double TeacherAccuracy = 90.25;

    [Fact]
    [Trait("Category", "Slow")]
    public void IntentRouter_builds_distilled_pruned_int8_model_within_a_point_of_the_teacher_and_routes_requests()
    {
        var project = CopyWithoutBuildOutput(Path.Combine(RepositoryPaths.Root, "samples", "IntentRouter"));
        try
        {
            File.WriteAllText(Path.Combine(project, "nuget.config"), package.NuGetConfig);
            var runtimeProject = Path.Combine(RepositoryPaths.Root, "src", "ModelBuild.Runtime", "ModelBuild.Runtime.csproj");
            var build = DotnetCommand.Start(project, "build", "-c", "Release", "-nologo", "-v:n",
                $"-p:ModelBuildVersion={package.Version}", $"-p:ModelBuildRuntimeProject={runtimeProject}").Wait(TimeSpan.FromMinutes(15));
            Assert.True(build.Succeeded, build.ToString());

            // The stages ran, in order (optimize by default: the student is a transformer), and the summary line has the teacher's and the result's figures.
            var stages = StageLine().Matches(build.Output).Select(m => m.Groups[1].Value).ToList();
            Assert.Equal(["distill", "prune", "optimize", "quantize"], stages);
            var summary = SummaryLine().Match(build.Output);
            Assert.True(summary.Success, build.Output);
            var resultBytes = long.Parse(summary.Groups["bytes"].Value, NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
            Assert.Equal(TeacherAccuracy, Number(summary, "teacherAccuracy"));
            Assert.True(Number(summary, "accuracy") >= TeacherAccuracy - 1.0, summary.Value);

            var output = Path.Combine(project, "bin", "Release", "net10.0");
            var model = Path.Combine(output, "models", "intent.onnx");
            Assert.True(File.Exists(model), "no models/intent.onnx in bin/");
            var teacherBytes = new FileInfo(Path.Combine(project, "Models", "intent-teacher.onnx")).Length;
            Assert.Equal(resultBytes, new FileInfo(model).Length);
            Assert.True(resultBytes * 8 <= teacherBytes, $"models/intent.onnx is {resultBytes} B, not 8x under the {teacherBytes} B teacher");

            // The app's own path (text -> tokenizer -> PredictionEnginePool) on the whole test split.
            var demo = DotnetCommand.Run(output, "IntentRouter.dll", "--demo");
            Assert.True(demo.Succeeded, demo.ToString());
            Assert.Contains("tokenizer matches Data/test_x.npy on all of them", demo.Output);
            var accuracy = AccuracyLine().Match(demo.Output);
            Assert.True(accuracy.Success, demo.Output);
            Assert.True(double.Parse(accuracy.Groups[1].Value, CultureInfo.InvariantCulture) >= TeacherAccuracy - 1.0, accuracy.Value);
            Assert.Matches(@"latency per request \(tokenize \+ predict, batch 1, 1 thread\), 1200 requests: p50 [\d.]+ ms, p99 [\d.]+ ms", demo.Output);

            // One-shot queries: each routed to its intent and API call.
            var queries = DotnetCommand.Run(output, "IntentRouter.dll",
                "--query", "cancel my meetings for the week",
                "--query", "remind me to call mom tomorrow",
                "--query", "what is on my todo list today",
                "--query", "move the standup to friday");
            Assert.True(queries.Succeeded, queries.ToString());
            Assert.Contains("\"cancel my meetings for the week\" -> meeting.delete (", queries.Output);
            Assert.Contains("-> DELETE /meetings?range=week", queries.Output);
            Assert.Contains("\"remind me to call mom tomorrow\" -> reminder.create (", queries.Output);
            Assert.Contains("-> POST /reminders?range=tomorrow", queries.Output);
            Assert.Contains("\"what is on my todo list today\" -> task.list (", queries.Output);
            Assert.Contains("\"move the standup to friday\" -> meeting.update (", queries.Output);
            Assert.DoesNotContain("latency per request", queries.Output);
        }
        finally
        {
            try { Directory.Delete(project, recursive: true); } catch (IOException) { /* a leftover temp folder is harmless */ }
        }
    }

    private static double Number(Match match, string group) => double.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);

    /// <summary>The sample's sources in a temp folder: what a fresh clone has (no bin/, obj/ or earlier compression).</summary>
    private static string CopyWithoutBuildOutput(string sample)
    {
        var copy = Directory.CreateTempSubdirectory("mb-it-intent-").FullName;
        foreach (var file in Directory.EnumerateFiles(sample, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(sample, file);
            var top = relative.Split(Path.DirectorySeparatorChar)[0];
            if (top is "bin" or "obj") continue;
            var target = Path.Combine(copy, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return copy;
    }

    [GeneratedRegex(@"models/intent\.onnx: stage (\w+) [\d.]+s")]
    private static partial Regex StageLine();

    [GeneratedRegex(@"ModelBuild: models/intent\.onnx: [\d,]+ B -> (?<bytes>[\d,]+) B \([\d.]+x smaller\), latency [\d.]+ us -> [\d.]+ us, accuracy (?<teacherAccuracy>[\d.]+)% -> (?<accuracy>[\d.]+)%")]
    private static partial Regex SummaryLine();

    [GeneratedRegex(@"accuracy: ([\d.]+)% \(\d+/1200\)")]
    private static partial Regex AccuracyLine();
}
