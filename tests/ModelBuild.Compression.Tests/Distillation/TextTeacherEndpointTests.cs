using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Teachers;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Text;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// A text model you can only call: the intent-bert teacher behind a minimal ASP.NET app on loopback that takes
/// <c>{"texts": [...]}</c>, tokenizes them itself (WordPiece over the case's vocab.txt, as the hosted model would) and
/// answers labels only. The student (the stated 1-layer student, a few epochs so the test stays short) is distilled from
/// train.tsv's texts without their labels. The full-size comparison with KD from the teacher file (60 epochs, seeds
/// 0-2) is the benchmark's (`endpoint intent-bert`, benchmarks/RESULTS.md).
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class TextTeacherEndpointTests(ITestOutputHelper output) : IDisposable
{
    static string T(string file) => SharedMaterials.Teachers("intent-bert", file);
    static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];
    readonly string _dir = Directory.CreateTempSubdirectory("mb-text-endpoint-").FullName;
    readonly InferenceSession _teacher = new(T("teacher.onnx"));

    public void Dispose()
    {
        _teacher.Dispose();
        Directory.Delete(_dir, true);
    }

    DistillationOptions Options(string name, EndpointTeacherOptions endpoint, int epochs) => new()
    {
        TeacherPath = T("student_scratch.onnx"), TeacherEndpoint = endpoint, StudentPath = T("student_scratch.onnx"), Reinitialize = true,
        OutputPath = Path.Combine(_dir, name),
        TrainingData = T("train.tsv"), DataOptions = new DataReadOptions { Tokenizer = T("vocab.txt"), TextColumn = "text" }, // no label column
        Epochs = epochs, BatchSize = 64, LearningRate = 2e-3, Seed = 1, Threads = 1,
    };

    /// <summary>
    /// The hosted text model: 400 unless the body is <c>{"texts": [strings]}</c>; tokenizes like the case's data
    /// (BERT uncased WordPiece, [CLS] .. [SEP], 32 tokens, pad 0) and answers the teacher's arg-max labels.
    /// </summary>
    Func<HttpContext, int, Task> TextLabels(ConcurrentQueue<string[]> received)
    {
        var tokenizer = TextTokenizer.Load(T("vocab.txt"));
        return async (context, _) =>
        {
            using var doc = await JsonDocument.ParseAsync(context.Request.Body);
            if (!doc.RootElement.TryGetProperty("texts", out var texts) || doc.RootElement.EnumerateObject().Count() != 1
                || texts.ValueKind != JsonValueKind.Array || texts.EnumerateArray().Any(t => t.ValueKind != JsonValueKind.String))
            {
                context.Response.StatusCode = 400;
                await context.Response.WriteAsync("expected {\"texts\": [\"...\", ...]}");
                return;
            }
            var rows = texts.EnumerateArray().Select(t => t.GetString()!).ToArray();
            received.Enqueue(rows);
            const int length = 32;
            var ids = new long[rows.Length * length];
            var mask = new long[ids.Length];
            for (int r = 0; r < rows.Length; r++)
            {
                var encoded = tokenizer.Encode(rows[r], length);
                for (int t = 0; t < encoded.Length; t++) { ids[r * length + t] = encoded[t]; mask[r * length + t] = 1; }
            }
            long[] shape = [rows.Length, length];
            using var a = OrtValue.CreateTensorValueFromMemory(ids, shape);
            using var b = OrtValue.CreateTensorValueFromMemory(mask, shape);
            using var c = OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape);
            using var run = new RunOptions();
            using var outputs = _teacher.Run(run, InputNames, new[] { a, b, c }, new[] { _teacher.OutputNames[0] });
            var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            int classes = logits.Length / rows.Length;
            var labels = Enumerable.Range(0, rows.Length).Select(i => { var s = logits.AsSpan(i * classes, classes).ToArray(); return Array.IndexOf(s, s.Max()); });
            await context.Response.WriteAsJsonAsync(new { labels });
        };
    }

    static EndpointTeacherOptions Endpoint(string url, string? cache) => new()
    {
        Url = url, AnswerCacheDirectory = cache, Timeout = TimeSpan.FromSeconds(30), MaxRetries = 2,
        FirstRetryDelay = TimeSpan.FromMilliseconds(20), MaxRetryDelay = TimeSpan.FromSeconds(1),
    };

    /// <summary>The text column of train.tsv, in file order (what the endpoint must be sent).</summary>
    static string[] TrainingTexts() => File.ReadLines(T("train.tsv")).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t')[0].Trim()).ToArray();

    [Fact]
    public void Text_rows_are_sent_as_texts_the_labels_train_the_student_and_a_second_build_makes_no_calls()
    {
        var received = new ConcurrentQueue<string[]>();
        using var server = new TeacherEndpointServer(TextLabels(received));
        var cache = Path.Combine(_dir, "answers");
        var result = StudentDistiller.Distill(Options("endpoint.onnx", Endpoint(server.Url, cache), epochs: 10));
        output.WriteLine($"{result.TeacherCalls}");

        // Every training text went out as text, each once: 3,240 rows in requests of 64.
        var expected = TrainingTexts();
        Assert.Equal(3240, expected.Length);
        Assert.Equal(51, server.Requests);
        Assert.Equal(51, result.TeacherCalls!.CallsMade);
        Assert.Equal("labels", result.TeacherCalls.Answer);
        Assert.Equal(expected.Order(StringComparer.Ordinal), received.SelectMany(r => r).Order(StringComparer.Ordinal));

        // The student learned the teacher's labels from them: validation accuracy of the exported file in ONNX Runtime,
        // far above chance (12 intents) after 10 epochs of hard-label KD from a fresh start.
        double accuracy = ValAccuracy(result.OutputPath);
        output.WriteLine($"val accuracy after 10 epochs: {accuracy:P2}");
        Assert.True(accuracy > 0.7, $"val accuracy {accuracy:P2}");

        // A second build on the same texts (other training settings) asks nothing: every request is in the answers cache.
        var again = StudentDistiller.Distill(Options("again.onnx", Endpoint(server.Url, cache), epochs: 1));
        Assert.Equal(0, again.TeacherCalls!.CallsMade);
        Assert.Equal(51, again.TeacherCalls.CallsCached);
        Assert.Equal(51, server.Requests);
    }

    public static TheoryData<string, string> Failures => new()
    {
        { "500 forever", "MB0360" },
        { "slow", "MB0361" },
        { "not json", "MB0362" },
        { "truncated json", "MB0362" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void A_text_endpoint_that_fails_times_out_or_answers_malformed_JSON_gives_an_MB_code_not_a_hang(string behaviour, string code)
    {
        using var server = new TeacherEndpointServer(async (context, _) =>
        {
            switch (behaviour)
            {
                case "500 forever": context.Response.StatusCode = 500; await context.Response.WriteAsync("model crashed"); break;
                case "slow": await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted); break;
                case "not json": await context.Response.WriteAsync("<html>gateway</html>"); break;
                case "truncated json": await context.Response.WriteAsync("{\"labels\": [0, 1, 2"); break;
            }
        });
        var options = Options("failed.onnx", Endpoint(server.Url, null) with { Timeout = TimeSpan.FromMilliseconds(500), BatchSize = 1620 }, epochs: 1);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(options));
        output.WriteLine($"{behaviour}: {e.Code} {e.Message} ({clock.Elapsed.TotalSeconds:F1} s)");
        Assert.Equal(code, e.Code);
        Assert.Contains(server.Url, e.Message);
        Assert.False(File.Exists(options.OutputPath));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{clock.Elapsed}");
    }

    static double ValAccuracy(string model)
    {
        using var session = new InferenceSession(model);
        var inputs = InputNames.Select(n => NpyDataReader.ReadArray(T("val.npz") + ":" + n)).ToArray();
        var y = NpyArray.Read(T("val_y.npy")).ToInt64Array();
        var values = inputs.Select(a => OrtValue.CreateTensorValueFromMemory(a.ToInt64Array(), a.Shape)).ToArray();
        try
        {
            using var run = new RunOptions();
            using var outputs = session.Run(run, InputNames, values, new[] { session.OutputNames[0] });
            var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            int classes = logits.Length / y.Length;
            return Enumerable.Range(0, y.Length).Count(i => { var s = logits.AsSpan(i * classes, classes).ToArray(); return Array.IndexOf(s, s.Max()) == y[i]; }) / (double)y.Length;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }
}
