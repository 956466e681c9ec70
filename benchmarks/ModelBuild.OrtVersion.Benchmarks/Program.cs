using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

// Times models at given batch sizes on one intra-op thread with the ONNX Runtime this build references, and prints one
// line per (model, batch): "<ort version> <model> <batch> <median CPU us> <median wall us> <runs>". compare.sh runs two builds alternately.
//   dotnet ModelBuild.OrtVersion.Benchmarks.dll --batches 1,32 --seconds 1.5 model1.onnx model2.onnx ...
var batches = new List<int> { 1, 32 };
var seconds = 1.5;
var models = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--batches": batches = args[++i].Split(',').Select(int.Parse).ToList(); break;
        case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
        default: models.Add(args[i]); break;
    }
}

var version = OrtEnv.Instance().GetVersionString();
foreach (var model in models)
{
    using var options = new SessionOptions
    {
        IntraOpNumThreads = 1,
        InterOpNumThreads = 1,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    };
    using var session = new InferenceSession(model, options);
    foreach (var batch in batches)
    {
        var inputs = session.InputMetadata.Select(kv => (kv.Key, Value: SyntheticInput(kv.Key, kv.Value, batch))).ToList();
        var names = inputs.Select(x => x.Key).ToArray();
        var values = inputs.Select(x => x.Value).ToArray();
        var outputNames = session.OutputMetadata.Keys.ToArray();
        using var runOptions = new RunOptions();
        void RunOnce()
        {
            using var outputs = session.Run(runOptions, names, values, outputNames);
        }

        var warmup = Stopwatch.StartNew();
        var warmupRuns = 0;
        while (warmup.Elapsed.TotalSeconds < seconds / 5 || warmupRuns < 3) { RunOnce(); warmupRuns++; }
        // Blocks of calls lasting ~2 ms each; per block the wall time and this thread's CPU time per call. With one
        // intra-op thread ONNX Runtime computes on the calling thread, so CPU time is the work itself, and it is far
        // less disturbed than wall time when other jobs share the cores (time spent descheduled is not counted).
        var perBlock = Math.Max(1, (int)(2000 / (warmup.Elapsed.TotalMicroseconds / warmupRuns)));
        var wall = new List<double>();
        var cpu = new List<double>();
        var total = Stopwatch.StartNew();
        while ((total.Elapsed.TotalSeconds < seconds || wall.Count < 10) && wall.Count < 20000)
        {
            var cpuStart = ThreadCpu.Microseconds();
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < perBlock; i++) RunOnce();
            wall.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds / perBlock);
            cpu.Add((ThreadCpu.Microseconds() - cpuStart) / perBlock);
        }

        wall.Sort();
        cpu.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{version} {Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(model)))}/{Path.GetFileName(model)} {batch} {cpu[cpu.Count / 2]:F2} {wall[wall.Count / 2]:F2} {wall.Count * perBlock}"));
        foreach (var value in values) value.Dispose();
    }
}

// Valid inputs from the metadata alone: token ids in the small vocabularies' range, masks of ones, token types of zeros,
// floats in [-1, 1) from a fixed seed; symbolic axes: the first is the batch, the others a sequence of 32.
static OrtValue SyntheticInput(string name, NodeMetadata metadata, int batch)
{
    var shape = metadata.Dimensions.Select((d, axis) => d > 0 ? (long)d : axis == 0 ? batch : 32).ToArray();
    var count = (int)shape.Aggregate(1L, (a, b) => a * b);
    var random = new Random(17);
    if (metadata.ElementDataType == TensorElementType.Int64)
    {
        var lower = name.ToLowerInvariant();
        var ids = new long[count];
        for (var i = 0; i < count; i++)
            ids[i] = lower.Contains("mask") ? 1 : lower.Contains("type") ? 0 : 2 + random.Next(0, 60);
        return OrtValue.CreateTensorValueFromMemory(ids, shape);
    }

    var floats = new float[count];
    for (var i = 0; i < count; i++) floats[i] = (float)(random.NextDouble() * 2 - 1);
    return OrtValue.CreateTensorValueFromMemory(floats, shape);
}

/// <summary>This thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID).</summary>
internal static class ThreadCpu
{
    private const int ClockThreadCpuTime = 3;

    public static double Microseconds()
    {
        if (clock_gettime(ClockThreadCpuTime, out var t) != 0) throw new InvalidOperationException("clock_gettime failed");
        return t.Seconds * 1e6 + t.Nanoseconds / 1e3;
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int clock_gettime(int clock, out TimeSpec time);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
