using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Teachers;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx.Diagnostics;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// A teacher you can only call: the wine-mlp teacher served over HTTP on loopback (<see cref="TeacherEndpointServer"/>),
/// the student distilled from its answers (labels only: hard-label KD) on training inputs without labels; compared with
/// KD from the same teacher as a file; rebuilt with the stage cache (no calls); and every way an endpoint fails gives an
/// MB code within the timeout and retry budget, never a hang.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class TeacherEndpointTests(ITestOutputHelper output) : IDisposable
{
    static readonly TeacherCase Wine = new("wine-mlp");
    readonly string _dir = Directory.CreateTempSubdirectory("mb-endpoint-").FullName;
    readonly InferenceSession _teacher = new(Wine.Teacher);

    public void Dispose()
    {
        _teacher.Dispose();
        Directory.Delete(_dir, true);
    }

    /// <summary>The reference settings of wine-mlp's student_kd (reference.json), without training labels.</summary>
    DistillationOptions Options(string name, int seed, EndpointTeacherOptions? endpoint, int epochs = 200) => new()
    {
        TeacherPath = endpoint is null ? Wine.Teacher : Wine.StudentScratch,
        TeacherEndpoint = endpoint,
        StudentPath = Wine.StudentScratch,
        Reinitialize = true,
        OutputPath = Path.Combine(_dir, name),
        TrainingData = Wine.File("train_x.npy"),
        Epochs = epochs, BatchSize = 32, LearningRate = 1e-3, WeightDecay = 0, WarmupFraction = 0, GradientClipNorm = null,
        Temperature = 4, Alpha = 0.9, Seed = seed,
    };

    static EndpointTeacherOptions Endpoint(string url, string? cache = null) => new()
    {
        Url = url, AnswerCacheDirectory = cache, Timeout = TimeSpan.FromSeconds(10), MaxRetries = 2,
        FirstRetryDelay = TimeSpan.FromMilliseconds(20), MaxRetryDelay = TimeSpan.FromSeconds(1),
    };

    /// <remarks>
    /// The test split has 54 rows (one row = 1.85 points), so the mean over seeds 0-2 is compared, as the acceptance
    /// tests of the shared teachers do; each run takes about a second.
    /// </remarks>
    [Fact]
    public void A_student_distilled_from_an_endpoint_that_answers_labels_is_at_most_one_point_below_kd_from_the_teacher_file()
    {
        using var server = new TeacherEndpointServer(TeacherEndpointServer.Onnx(_teacher, "labels"));
        double fromFile = 0, fromEndpoint = 0;
        const int seeds = 3;
        for (int seed = 0; seed < seeds; seed++)
        {
            StudentDistiller.Distill(Options($"file{seed}.onnx", seed, null));
            var result = StudentDistiller.Distill(Options($"endpoint{seed}.onnx", seed, Endpoint(server.Url)));
            double a = Wine.OrtTestAccuracy(Path.Combine(_dir, $"file{seed}.onnx")), b = Wine.OrtTestAccuracy(Path.Combine(_dir, $"endpoint{seed}.onnx"));
            output.WriteLine($"seed {seed}: KD from the file {a * 100:F2}%, hard-label KD from the endpoint {b * 100:F2}% ({result.TeacherCalls})");
            fromFile += a / seeds;
            fromEndpoint += b / seeds;
            Assert.Equal("labels", result.TeacherCalls!.Answer);
            Assert.Equal(2, result.TeacherCalls.CallsMade); // 124 rows in requests of 64
        }
        output.WriteLine($"mean: file {fromFile * 100:F2}%, endpoint {fromEndpoint * 100:F2}%");
        Assert.True(fromEndpoint >= fromFile - 0.01, $"labels-only endpoint KD {fromEndpoint * 100:F2}% vs file KD {fromFile * 100:F2}%");
        Assert.Equal(2 * seeds, server.Requests);
    }

    [Theory]
    [InlineData("logits")]
    [InlineData("probabilities")]
    public void Scores_from_an_endpoint_train_the_same_student_as_the_teacher_file(string answer)
    {
        using var server = new TeacherEndpointServer(TeacherEndpointServer.Onnx(_teacher, answer));
        StudentDistiller.Distill(Options("file.onnx", 0, null, epochs: 20));
        var result = StudentDistiller.Distill(Options("endpoint.onnx", 0, Endpoint(server.Url), epochs: 20));
        Assert.Equal(answer, result.TeacherCalls!.Answer);
        // Logits are the file teacher's own; probabilities become log-probabilities, which soften with T identically.
        Assert.Equal(Wine.OrtTestAccuracy(Path.Combine(_dir, "file.onnx")), Wine.OrtTestAccuracy(Path.Combine(_dir, "endpoint.onnx")));
    }

    [Fact]
    public void A_rebuild_or_another_student_makes_no_calls_and_the_token_reaches_only_the_endpoint()
    {
        const string variable = "MODELBUILD_TEST_TEACHER_TOKEN";
        const string secret = "s3cr3t-token-value";
        Environment.SetEnvironmentVariable(variable, secret);
        try
        {
            using var server = new TeacherEndpointServer(TeacherEndpointServer.Onnx(_teacher, "labels"));
            var stageCache = Path.Combine(_dir, "stages");
            CompressionRecipe Recipe(int epochs) => new()
            {
                Teacher = Wine.StudentScratch, Output = Path.Combine(_dir, $"out{epochs}.onnx"), Distill = true, Reinitialize = true,
                TrainingData = Wine.File("train_x.npy"), Epochs = epochs,
                EvaluationData = Wine.File("test_x.npy"), EvaluationLabels = Wine.File("test_y.npy"),
                TeacherEndpoint = server.Url + "?deployment=wine", TeacherEndpointTokenEnv = variable, TeacherBatchSize = 50,
            };
            var logText = new StringWriter();
            var pipeline = new CompressionPipeline(StageCatalog.All()) { LatencyRuns = 0, StageCacheDirectory = stageCache };
            var first = pipeline.Run(Recipe(30), new WorkerProtocolLog(logText), Path.Combine(_dir, "report.json"));
            Assert.Equal(3, server.Requests); // 124 rows in requests of 50
            var calls = first.Stages[0].Details!["teacherCalls"]!;
            Assert.Equal(3, calls["callsMade"]!.GetValue<int>());
            Assert.Equal(0, calls["callsCached"]!.GetValue<int>());
            Assert.Equal("endpoint " + server.Url, first.Stages[0].Details!["teacher"]!.GetValue<string>()); // no query string
            Assert.All(server.CredentialHeaders, h => Assert.Equal("Authorization: Bearer " + secret, h));

            // The same build again: the distill stage comes from the stage cache.
            var again = pipeline.Run(Recipe(30), new WorkerProtocolLog(logText));
            Assert.True(again.Stages[0].CacheHit);
            Assert.Equal(3, server.Requests);

            // Other training settings (another student): the stage runs, every answer comes from the answers cache, and
            // reading an answer marks it used (CacheRetention), so a build's trim keeps the answers still asked for.
            var answers = Directory.GetFiles(Path.Combine(stageCache, ModelBuild.Onnx.CacheRetention.TeacherAnswersFolder), "*.json");
            Assert.Equal(3, answers.Length);
            foreach (var answer in answers) File.SetLastWriteTimeUtc(answer, DateTime.UtcNow.AddDays(-60));
            var other = pipeline.Run(Recipe(31), new WorkerProtocolLog(logText));
            Assert.All(answers, a => Assert.True(File.GetLastWriteTimeUtc(a) > DateTime.UtcNow.AddDays(-1), $"{a} was read but not marked used"));
            Assert.False(other.Stages[0].CacheHit);
            Assert.Equal(3, server.Requests);
            Assert.Equal(3, other.Stages[0].Details!["teacherCalls"]!["callsCached"]!.GetValue<int>());
            Assert.Equal(0, other.Stages[0].Details!["teacherCalls"]!["callsMade"]!.GetValue<int>());
            Assert.NotNull(other.Result.Accuracy);

            // The token is nowhere but in the requests: not in the log, the reports, the cache keys or the stage cache.
            var written = new List<string> { logText.ToString(), first.ToJson(), other.ToJson() };
            written.AddRange(Directory.EnumerateFiles(_dir, "report.*").Select(File.ReadAllText));
            written.AddRange(Directory.EnumerateFiles(stageCache, "*", SearchOption.AllDirectories).Select(f => f + "\n" + File.ReadAllText(f)));
            Assert.All(written, text => Assert.DoesNotContain(secret, text));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    public static TheoryData<string, string> Failures => new()
    {
        { "500 forever", "MB0360" },
        { "401", "MB0360" },
        { "slow", "MB0361" },
        { "not json", "MB0362" },
        { "no scores", "MB0362" },
        { "class out of range", "MB0362" },
        { "one row short", "MB0363" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void An_endpoint_that_fails_gives_an_MB_code_naming_it_and_writes_nothing(string behaviour, string code)
    {
        using var server = new TeacherEndpointServer(async (context, _) =>
        {
            switch (behaviour)
            {
                case "500 forever": context.Response.StatusCode = 500; await context.Response.WriteAsync("model crashed"); break;
                case "401": context.Response.StatusCode = 401; break;
                case "slow": await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted); break;
                case "not json": await context.Response.WriteAsync("<html>gateway</html>"); break;
                case "no scores": await context.Response.WriteAsJsonAsync(new { predictions = new[] { 1 } }); break;
                case "class out of range": await context.Response.WriteAsJsonAsync(new { labels = Enumerable.Repeat(7, 62) }); break;
                case "one row short": await context.Response.WriteAsJsonAsync(new { labels = Enumerable.Repeat(0, 61) }); break;
            }
        });
        var options = Options("failed.onnx", 0, new EndpointTeacherOptions
        {
            Url = server.Url, Timeout = TimeSpan.FromMilliseconds(500), MaxRetries = 2, BatchSize = 62,
            FirstRetryDelay = TimeSpan.FromMilliseconds(20), MaxRetryDelay = TimeSpan.FromSeconds(1),
        });
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(options));
        output.WriteLine($"{behaviour}: {e.Code} {e.Message}");
        Assert.Equal(code, e.Code);
        Assert.Contains(server.Url, e.Message);
        Assert.False(File.Exists(options.OutputPath));
        // Transient failures are retried (3 attempts per request); a refusal, or an answer that is not one, is not.
        int perRequest = behaviour is "500 forever" or "slow" ? 3 : 1;
        Assert.InRange(server.Requests, perRequest, 2 * perRequest);
    }

    [Fact]
    public void A_429_with_retry_after_is_retried_and_the_budget_counts_every_call()
    {
        var inner = TeacherEndpointServer.Onnx(_teacher, "labels");
        using var server = new TeacherEndpointServer(async (context, n) =>
        {
            if (n % 2 == 1) // every other request is throttled
            {
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = "0";
                return;
            }
            await inner(context, n);
        });
        var endpoint = new EndpointTeacherOptions { Url = server.Url, BatchSize = 124, MaxCalls = 2, FirstRetryDelay = TimeSpan.FromSeconds(30) };
        var result = StudentDistiller.Distill(Options("retried.onnx", 0, endpoint, epochs: 2));
        Assert.Equal(2, result.TeacherCalls!.CallsMade); // Retry-After: 0 replaced the 30 s back-off
        Assert.Equal(1, result.TeacherCalls.Retries);

        // The same run with a budget of 1: the retry after the 429 would be the second call.
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(Options("budget.onnx", 0, endpoint with { MaxCalls = 1 }, epochs: 2)));
        Assert.Equal("MB0364", e.Code);
        // More requests needed than the budget allows: refused before the first call.
        int before = server.Requests;
        e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(Options("budget.onnx", 0, endpoint with { MaxCalls = 1, BatchSize = 10 }, epochs: 2)));
        Assert.Equal("MB0364", e.Code);
        Assert.Equal(before, server.Requests);
    }

    [Fact]
    public void Settings_an_endpoint_cannot_serve_are_refused_before_any_call()
    {
        using var server = new TeacherEndpointServer(TeacherEndpointServer.Onnx(_teacher, "labels"));
        void Refused(DistillationOptions o, string words)
        {
            var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(o));
            Assert.Equal("MB0365", e.Code);
            Assert.Contains(words, e.Message);
        }
        var o = Options("x.onnx", 0, Endpoint(server.Url));
        Refused(new DistillationOptions { TeacherPath = o.TeacherPath, OutputPath = o.OutputPath, TrainingData = o.TrainingData, StudentWidth = 0.5, TeacherEndpoint = o.TeacherEndpoint }, "derived");
        Refused(new DistillationOptions { TeacherPath = o.TeacherPath, OutputPath = o.OutputPath, TrainingData = o.TrainingData, StudentPath = o.StudentPath, TeacherEndpoint = Endpoint("http://user:pw@127.0.0.1:1/x") }, "credentials");
        Refused(new DistillationOptions { TeacherPath = o.TeacherPath, OutputPath = o.OutputPath, TrainingData = o.TrainingData, StudentPath = o.StudentPath, TeacherEndpoint = Endpoint("ftp://127.0.0.1/x") }, "http(s)");
        Refused(new DistillationOptions { TeacherPath = o.TeacherPath, OutputPath = o.OutputPath, TrainingData = o.TrainingData, StudentPath = o.StudentPath, TeacherEndpoint = Endpoint(server.Url) with { TokenEnvironmentVariable = "MODELBUILD_TEST_UNSET_VARIABLE" } }, "MODELBUILD_TEST_UNSET_VARIABLE");
        Assert.Equal(0, server.Requests);
    }
}
