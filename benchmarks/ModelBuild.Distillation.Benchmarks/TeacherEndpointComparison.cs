using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Teachers;
using ModelBuild.Compression.Evaluation;

/// <summary>
/// The teacher-endpoint acceptance at full size: each case's teacher served over HTTP on loopback answering labels
/// only, the stated student (reinitialized, reference settings, training inputs without labels) distilled from it,
/// against KD from the same teacher as a file, seeds 0-2; then the same run again on the answers cache (calls made: 0).
/// intent-bert is the text case: its training texts (train.tsv, no labels) are sent as texts and the server tokenizes.
/// The server is an HttpListener here (a console benchmark needs no hosting); the tests serve with Kestrel.
/// </summary>
static class TeacherEndpointComparison
{
    public static void Run(string shared, IEnumerable<string> caseNames)
    {
        Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, load {Load()} at the start; torch threads 1");
        Console.WriteLine("| case | seed | KD from the file | hard-label KD from the endpoint | calls made | calls made again (cached) | endpoint s |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        foreach (var name in caseNames)
        {
            string dir = Path.Combine(shared, "teachers", name);
            var train = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json"))).RootElement.GetProperty("student_kd").GetProperty("train");
            bool text = File.Exists(Path.Combine(dir, "train.tsv"));
            using var teacher = new InferenceSession(Path.Combine(dir, "teacher.onnx"));
            using var server = new LabelServer(teacher, text ? Path.Combine(dir, "vocab.txt") : null);
            string cache = Directory.CreateTempSubdirectory("mb-bench-answers-").FullName;
            string output = Path.Combine(Path.GetTempPath(), $"mb-bench-endpoint-{Environment.ProcessId}.onnx");
            double sumFile = 0, sumEndpoint = 0;
            const int seeds = 3;
            for (int seed = 0; seed < seeds; seed++)
            {
                DistillationOptions Options(EndpointTeacherOptions? endpoint) => new()
                {
                    TeacherPath = Path.Combine(dir, endpoint is null ? "teacher.onnx" : "student_scratch.onnx"), TeacherEndpoint = endpoint,
                    StudentPath = Path.Combine(dir, "student_scratch.onnx"), Reinitialize = true, OutputPath = output,
                    // intent-bert: the texts of train.tsv (no label column), tokenized for the student; the endpoint gets the texts.
                    TrainingData = Path.Combine(dir, text ? "train.tsv" : "train_x.npy"),
                    DataOptions = text ? new DataReadOptions { Tokenizer = Path.Combine(dir, "vocab.txt"), TextColumn = "text" } : null,
                    Epochs = train.GetProperty("epochs").GetInt32(), BatchSize = train.GetProperty("batch_size").GetInt32(),
                    LearningRate = train.GetProperty("lr").GetDouble(), WeightDecay = train.GetProperty("weight_decay").GetDouble(),
                    WarmupFraction = train.TryGetProperty("warmup_frac", out var w) ? w.GetDouble() : 0,
                    GradientClipNorm = train.TryGetProperty("grad_clip", out var g) ? g.GetDouble() : null,
                    Temperature = 4, Alpha = 0.9, Seed = seed, Threads = 1,
                    // The same rows on both sides: the file teacher's default variants (2 for this fresh student) would
                    // each be a call to the endpoint, which gets none.
                    Augment = 0,
                };
                StudentDistiller.Distill(Options(null));
                double fromFile = Accuracy(dir, output);
                var endpoint = new EndpointTeacherOptions { Url = server.Url, AnswerCacheDirectory = cache };
                var first = StudentDistiller.Distill(Options(endpoint));
                double fromEndpoint = Accuracy(dir, output);
                // The second build: the same rows and settings (for intent-bert 1 epoch: the calls are made before training).
                var again = StudentDistiller.Distill(text ? Options(endpoint).With(epochs: 1) : Options(endpoint));
                sumFile += fromFile;
                sumEndpoint += fromEndpoint;
                Console.WriteLine($"| {name} | {seed} | {fromFile * 100:F2}% | {fromEndpoint * 100:F2}% | {first.TeacherCalls!.CallsMade} | {again.TeacherCalls!.CallsMade} | {first.TeacherCalls.Seconds:F2} |");
            }
            Console.WriteLine($"| {name} | mean | {sumFile / seeds * 100:F2}% | {sumEndpoint / seeds * 100:F2}% | | | |");
            File.Delete(output);
            Directory.Delete(cache, true);
        }
        Console.WriteLine($"load {Load()} at the end");
    }

    static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

    /// <summary>Test accuracy in ONNX Runtime: test_x.npy, or for intent-bert the three arrays of test.npz.</summary>
    static double Accuracy(string dir, string model)
    {
        string npz = Path.Combine(dir, "test.npz");
        InputSet x = File.Exists(npz) ? DataSource.ReadInputSet(npz, new DataReadOptions().ForModel(model)) : DataTensor.Load(Path.Combine(dir, "test_x.npy"));
        return new ModelEvaluator(x, DataTensor.Load(Path.Combine(dir, "test_y.npy")), latencyRuns: 0).Evaluate(model).Accuracy!.Value / 100;
    }

    static DistillationOptions With(this DistillationOptions o, int epochs) => new()
    {
        TeacherPath = o.TeacherPath, TeacherEndpoint = o.TeacherEndpoint, StudentPath = o.StudentPath, Reinitialize = o.Reinitialize,
        OutputPath = o.OutputPath, TrainingData = o.TrainingData, DataOptions = o.DataOptions, Epochs = epochs, BatchSize = o.BatchSize,
        LearningRate = o.LearningRate, WeightDecay = o.WeightDecay, WarmupFraction = o.WarmupFraction, GradientClipNorm = o.GradientClipNorm,
        Temperature = o.Temperature, Alpha = o.Alpha, Seed = o.Seed, Threads = o.Threads,
    };

    /// <summary>
    /// Answers <c>{"inputs": {name: rows}}</c>, or with a vocabulary <c>{"texts": [...]}</c> (tokenized here with
    /// Microsoft.ML.Tokenizers' BertTokenizer, as the case's data was: uncased WordPiece, [CLS] .. [SEP], 32 tokens,
    /// pad 0), with the teacher's arg-max labels.
    /// </summary>
    sealed class LabelServer : IDisposable
    {
        readonly HttpListener _listener = new();
        readonly InferenceSession _teacher;
        readonly BertTokenizer? _tokenizer;
        readonly Task _loop;

        public string Url { get; }

        public LabelServer(InferenceSession teacher, string? vocabulary)
        {
            _teacher = teacher;
            _tokenizer = vocabulary is null ? null : BertTokenizer.Create(vocabulary, new BertOptions { LowerCaseBeforeTokenization = true });
            var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
            Url = $"http://127.0.0.1:{port}/teacher/";
            _listener.Prefixes.Add(Url);
            _listener.Start();
            _loop = Task.Run(Serve);
        }

        async Task Serve()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await _listener.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                using var doc = await JsonDocument.ParseAsync(context.Request.InputStream);
                if (_tokenizer is not null)
                {
                    await Answer(context, TextLabels(doc.RootElement.GetProperty("texts").EnumerateArray().Select(t => t.GetString()!).ToArray()));
                    continue;
                }
                var rows = doc.RootElement.GetProperty("inputs").EnumerateObject().Single().Value;
                int n = rows.GetArrayLength(), width = rows[0].GetArrayLength();
                bool ids = _teacher.InputMetadata[_teacher.InputNames[0]].ElementDataType == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64;
                using var input = ids
                    ? OrtValue.CreateTensorValueFromMemory(rows.EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetInt64())).ToArray(), new long[] { n, width })
                    : OrtValue.CreateTensorValueFromMemory(rows.EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetSingle())).ToArray(), new long[] { n, width });
                using var run = new RunOptions();
                using var outputs = _teacher.Run(run, new[] { _teacher.InputNames[0] }, new[] { input }, new[] { _teacher.OutputNames[0] });
                await Answer(context, ArgMax(outputs[0].GetTensorDataAsSpan<float>().ToArray(), n));
            }
        }

        static int[] ArgMax(float[] logits, int n)
        {
            int classes = logits.Length / n;
            return Enumerable.Range(0, n).Select(i => { var r = logits.AsSpan(i * classes, classes).ToArray(); return Array.IndexOf(r, r.Max()); }).ToArray();
        }

        static async Task Answer(HttpListenerContext context, int[] labels)
        {
            var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { labels }));
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }

        int[] TextLabels(string[] texts)
        {
            const int length = 32;
            var ids = new long[texts.Length * length];
            var mask = new long[ids.Length];
            for (int r = 0; r < texts.Length; r++)
            {
                var encoded = _tokenizer!.EncodeToIds(texts[r], addSpecialTokens: true);
                for (int t = 0; t < Math.Min(length, encoded.Count); t++) { ids[r * length + t] = encoded[t]; mask[r * length + t] = 1; }
            }
            long[] shape = [texts.Length, length];
            using var a = OrtValue.CreateTensorValueFromMemory(ids, shape);
            using var b = OrtValue.CreateTensorValueFromMemory(mask, shape);
            using var c = OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape);
            using var run = new RunOptions();
            using var outputs = _teacher.Run(run, new[] { "input_ids", "attention_mask", "token_type_ids" }, new[] { a, b, c }, new[] { _teacher.OutputNames[0] });
            return ArgMax(outputs[0].GetTensorDataAsSpan<float>().ToArray(), texts.Length);
        }

        public void Dispose()
        {
            _listener.Stop();
            _listener.Close();
            try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        }
    }
}
