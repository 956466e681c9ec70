using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelBuild.Runtime;
using Onnx;

namespace ModelBuild.Runtime.Benchmarks;

/// <summary>
/// The pool with its default session settings vs the settings `modelbuild compress` recorded in the model's
/// <c>.session.json</c>: single-caller latency (median per Predict) and 8-caller throughput (Predicts per second, 8
/// threads sharing the pool), pools measured alternately in rounds. Not BenchmarkDotNet: it has no concurrent-caller
/// throughput mode. Run by benchmarks/session-tuning/pool-default-vs-tuned.sh.
///   dotnet ModelBuild.Runtime.Benchmarks.dll --session-settings mlp|ids|bert model.onnx [rounds]
///   dotnet ModelBuild.Runtime.Benchmarks.dll --write-mlp out.onnx      (64-512-512-10, ReLU, fixed seed)
/// </summary>
public static class SessionSettingsComparison
{
    public static int Run(string[] args)
    {
        if (args[0] == "--write-mlp")
        {
            File.WriteAllBytes(args[1], Mlp([64, 512, 512, 10]).ToByteArray());
            return 0;
        }
        var rounds = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 5;
        return args[1] switch
        {
            "mlp" => Compare<MlpInput, MlpScores>(args[2], rounds, () => new MlpInput { Features = Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i)).ToArray() }),
            "ids" => Compare<TokenIds, IntentLogits>(args[2], rounds, () => new TokenIds { Ids = Enumerable.Range(0, 32).Select(i => i < 9 ? (long)(2 + i * 5) : 0L).ToArray() }),
            "bert" => Compare<IntentTokens, IntentScores>(args[2], rounds, () => new IntentTokens
            {
                InputIds = Enumerable.Range(0, 32).Select(i => i < 9 ? (long)(2 + i * 5) : 0L).ToArray(),
                AttentionMask = Enumerable.Range(0, 32).Select(i => i < 9 ? 1L : 0L).ToArray(),
            }),
            _ => throw new ArgumentException($"unknown input kind '{args[1]}'"),
        };
    }

    private static int Compare<TIn, TOut>(string model, int rounds, Func<TIn> input)
        where TIn : class
        where TOut : class, new()
    {
        // The tuner's choice depends on the machine's load when it ran; the "cores" variants serve a copy of the model
        // with a sidecar that records intra-op threads = cores (what it picks for the MLP on a quiet machine).
        var cores = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(model))!, Path.GetFileNameWithoutExtension(model) + ".cores.onnx");
        File.Copy(model, cores, overwrite: true);
        File.WriteAllText(cores + ".session.json", $$"""{ "format": "modelbuild.session/1", "intraOpThreads": {{Environment.ProcessorCount}} }""");
        var variants = new (string Name, string Model, Action<OnnxSessionOptions> Configure)[]
        {
            ("default (recorded settings ignored)", model, o => o.UseRecordedSettings = false),
            ("as tuned (its .session.json)", model, _ => { }),
            ($"recorded {Environment.ProcessorCount} threads, one thread for overlapping calls (default)", cores, _ => { }),
            ($"recorded {Environment.ProcessorCount} threads, OneThreadForOverlappingCalls = false", cores, o => o.OneThreadForOverlappingCalls = false),
            ($"recorded {Environment.ProcessorCount} threads, ExpectedConcurrentCallers = 8", cores, o => o.ExpectedConcurrentCallers = 8),
        };
        var providers = variants.Select(v =>
        {
            var services = new ServiceCollection().AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
            services.AddPredictionEnginePool<TIn, TOut>().FromFile("m", v.Model, watchForChanges: false).Configure(o => v.Configure(o.Session));
            return services.BuildServiceProvider();
        }).ToArray();
        var pools = providers.Select(p => p.GetRequiredService<PredictionEnginePool<TIn, TOut>>()).ToArray();
        for (var i = 0; i < variants.Length; i++)
        {
            var s = pools[i].GetModelInfo("m").Session!;
            Console.WriteLine($"# {variants[i].Name}: intra-op {s.IntraOpNumThreads}{(s.OneThreadForOverlappingCalls ? " (1 for overlapping calls)" : "")}, inter-op {s.InterOpNumThreads}, {s.GraphOptimizationLevel}, {s.ExecutionMode}, from {s.RecordedSettingsFile ?? "pool options"}");
        }

        var latency = variants.Select(_ => new List<double>()).ToArray();
        var throughput = variants.Select(_ => new List<double>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < variants.Length; k++)
            {
                var i = (k + round) % variants.Length; // rotate the order so no variant always runs first
                latency[i].Add(SingleCaller(pools[i], input(), TimeSpan.FromSeconds(0.5)));
                throughput[i].Add(Callers(pools[i], input, 8, TimeSpan.FromSeconds(1)));
            }
        }

        Console.WriteLine($"\n{Path.GetFileName(model)}, {rounds} rounds, {Environment.ProcessorCount} cores");
        Console.WriteLine("| pool settings | 1 caller: median us per Predict | ratio to default | 8 callers: Predicts/s | ratio to default |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        for (var i = 0; i < variants.Length; i++)
        {
            var l = Median(latency[i]);
            var t = Median(throughput[i]);
            var lr = Median(latency[i].Zip(latency[0], (a, b) => a / b).ToList());
            var tr = Median(throughput[i].Zip(throughput[0], (a, b) => a / b).ToList());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {variants[i].Name} | {l:0.0} | {lr:0.00} | {t:N0} | {tr:0.00} |"));
        }
        foreach (var p in providers) p.Dispose();
        return 0;
    }

    private static double SingleCaller<TIn, TOut>(PredictionEnginePool<TIn, TOut> pool, TIn input, TimeSpan duration)
        where TIn : class
        where TOut : class, new()
    {
        var output = new TOut();
        for (var i = 0; i < 20; i++) pool.Predict("m", input, output);
        var times = new List<double>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration || times.Count < 10)
        {
            var start = Stopwatch.GetTimestamp();
            pool.Predict("m", input, output);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
        }
        return Median(times);
    }

    private static double Callers<TIn, TOut>(PredictionEnginePool<TIn, TOut> pool, Func<TIn> input, int callers, TimeSpan duration)
        where TIn : class
        where TOut : class, new()
    {
        long calls = 0;
        using var start = new Barrier(callers + 1);
        var stop = 0;
        var threads = Enumerable.Range(0, callers).Select(_ => new Thread(() =>
        {
            var row = input();
            var output = new TOut();
            long mine = 0;
            start.SignalAndWait();
            while (Volatile.Read(ref stop) == 0)
            {
                pool.Predict("m", row, output);
                mine++;
            }
            Interlocked.Add(ref calls, mine);
        })).ToList();
        threads.ForEach(t => t.Start());
        start.SignalAndWait();
        var clock = Stopwatch.StartNew();
        Thread.Sleep(duration);
        Volatile.Write(ref stop, 1);
        threads.ForEach(t => t.Join());
        return Interlocked.Read(ref calls) / clock.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>A float MLP input -> Gemm/ReLU ... -> logits with weights from a fixed seed.</summary>
    private static ModelProto Mlp(int[] widths)
    {
        var random = new Random(7);
        var graph = new GraphProto { Name = "mlp" };
        var x = "input";
        for (var layer = 0; layer < widths.Length - 1; layer++)
        {
            int n = widths[layer], m = widths[layer + 1];
            var scale = (float)Math.Sqrt(2.0 / n);
            graph.Initializer.Add(Tensor($"w{layer}", [n, m], Enumerable.Range(0, n * m).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale)));
            graph.Initializer.Add(Tensor($"b{layer}", [m], Enumerable.Range(0, m).Select(_ => 0.01f)));
            var last = layer == widths.Length - 2;
            var y = last ? "logits" : $"h{layer}";
            graph.Node.Add(new NodeProto { OpType = "Gemm", Name = $"gemm{layer}", Input = { x, $"w{layer}", $"b{layer}" }, Output = { last ? y : y + "_pre" } });
            if (!last) graph.Node.Add(new NodeProto { OpType = "Relu", Name = $"relu{layer}", Input = { y + "_pre" }, Output = { y } });
            x = y;
        }
        graph.Input.Add(Value("input", widths[0]));
        graph.Output.Add(Value("logits", widths[^1]));
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "ModelBuild.Runtime.Benchmarks" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model;
    }

    private static TensorProto Tensor(string name, long[] dims, IEnumerable<float> values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        return t;
    }

    private static ValueInfoProto Value(string name, long width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }
}

public sealed class MlpInput
{
    [ColumnName("input"), VectorType(64)] public float[] Features { get; set; } = new float[64];
}

public sealed class MlpScores
{
    [ColumnName("logits"), VectorType(10)] public float[] Scores { get; set; } = new float[10];
}

public sealed class TokenIds
{
    [ColumnName("input"), VectorType(32)] public long[] Ids { get; set; } = new long[32];
}

public sealed class IntentLogits
{
    [ColumnName("logits"), VectorType(12)] public float[] Scores { get; set; } = new float[12];
}
