using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using IntentRouter;
using Microsoft.Extensions.DependencyInjection;
using ModelBuild.Runtime;

// Routes natural-language requests to CRUD API calls with the intent model `dotnet build` compressed
// (bin/.../models/intent.onnx), served by ModelBuild.Runtime's PredictionEnginePool.
//   IntentRouter                      test-split accuracy and p50/p99 latency, then answers queries
//                                     (a prompt on a terminal; one query per line when stdin is redirected)
//   IntentRouter --query "..." [...]  answers these queries and exits
//   IntentRouter --demo               test-split figures and a few fixed queries, then exits
const string ModelName = "intent";
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

var queries = new List<string>();
var demo = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--query" when i + 1 < args.Length: queries.Add(args[++i]); break;
        case "--demo": demo = true; break;
        default:
            Console.Error.WriteLine($"unknown argument '{args[i]}'. Usage: IntentRouter [--query \"text\"]... | [--demo]");
            return 2;
    }
}

var baseDirectory = AppContext.BaseDirectory;
var modelPath = Path.Combine(baseDirectory, "models", "intent.onnx");
var tokenizer = IntentTokenizer.Load(Path.Combine(baseDirectory, "Models", "vocab.json"));
var intents = JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(baseDirectory, "Models", "labels.json")))!;

var services = new ServiceCollection();
// One intra-op thread (the pool's default): each request runs on its caller's thread, as in a server.
services.AddPredictionEnginePool<IntentQuery, IntentScores>().FromFile(modelName: ModelName, filePath: modelPath, watchForChanges: false);
using var provider = services.BuildServiceProvider();
var pool = provider.GetRequiredService<PredictionEnginePool<IntentQuery, IntentScores>>();
var info = pool.GetModelInfo(ModelName);
Console.WriteLine($"model: models/intent.onnx, {info.SizeBytes:N0} bytes, sha256 {info.Sha256[..12]}");

if (queries.Count > 0)
{
    foreach (var query in queries) Answer(query);
    return 0;
}

MeasureTestSplit();
if (demo)
{
    foreach (var query in DemoQueries()) Answer(query);
    return 0;
}

if (Console.IsInputRedirected)
{
    while (Console.ReadLine() is { } line) if (!string.IsNullOrWhiteSpace(line)) Answer(line);
    return 0;
}
Console.WriteLine("Type a request (empty line or Ctrl+D to quit), e.g. \"cancel my meetings for the week\".");
while (true)
{
    Console.Write("> ");
    if (Console.ReadLine() is not { Length: > 0 } line) return 0;
    Answer(line);
}

void Answer(string text)
{
    var clock = Stopwatch.StartNew();
    var input = new IntentQuery();
    tokenizer.Encode(text, input.TokenIds);
    var scores = pool.Predict(ModelName, input);
    var elapsed = clock.Elapsed.TotalMilliseconds;
    var intent = intents[scores.BestIndex()];
    Console.WriteLine($"\"{text}\" -> {intent} ({100 * scores.Confidence():0.0}%) -> {CrudRoute.For(intent, text)}  [{elapsed:0.000} ms]");
}

void MeasureTestSplit()
{
    var split = TestSplit.Load(Path.Combine(baseDirectory, "Data", "test_utterances.tsv"), Path.Combine(baseDirectory, "Data", "test_x.npy"), tokenizer, intents);
    var input = new IntentQuery();
    var output = new IntentScores();
    // Warm-up, one pass over the split: the first runs pay for ONNX Runtime's lazy initialization, and the JIT
    // recompiles hot methods (tiered compilation) on a background thread during the first few hundred calls.
    for (var i = 0; i < split.Texts.Length; i++)
    {
        tokenizer.Encode(split.Texts[i], input.TokenIds);
        pool.Predict(ModelName, input, output);
    }

    // One request = tokenize the text + run the model at batch 1, with a reused input and output object.
    var milliseconds = new double[split.Texts.Length];
    var correct = 0;
    for (var i = 0; i < split.Texts.Length; i++)
    {
        var start = Stopwatch.GetTimestamp();
        tokenizer.Encode(split.Texts[i], input.TokenIds);
        pool.Predict(ModelName, input, output);
        milliseconds[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (output.BestIndex() == split.Labels[i]) correct++;
    }
    Array.Sort(milliseconds);
    Console.WriteLine($"test split: {split.Texts.Length} utterances, tokenizer matches Data/test_x.npy on all of them");
    Console.WriteLine($"accuracy: {100.0 * correct / split.Texts.Length:0.00}% ({correct}/{split.Texts.Length})");
    Console.WriteLine($"latency per request (tokenize + predict, batch 1, 1 thread), {milliseconds.Length} requests: " +
        $"p50 {Percentile(milliseconds, 0.50):0.000} ms, p99 {Percentile(milliseconds, 0.99):0.000} ms, max {milliseconds[^1]:0.000} ms");
}

static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

static string[] DemoQueries() =>
[
    "cancel my meetings for the week",
    "remind me to call mom tomorrow",
    "what is on my todo list today",
    "move the standup to friday",
    "delete the reminder about the dentist",
    "add a task to renew my passport",
];
