using System.Diagnostics;
using System.Runtime;
using System.Text.Json;
using ModelBuild.Compression.Distillation;

// KD training throughput (samples/s) of StudentDistiller with each case's reference settings, compared with the
// PyTorch wall time reference.json records for the same epochs, batch size and data (student_kd.train.wall_time_s).
// PyTorch is not installed on the build machines, so the PyTorch figure is the recorded one, not a side-by-side run.
// Usage: dotnet run -c Release --project benchmarks/ModelBuild.Distillation.Benchmarks -- [case ...] [--threads N] [--baseline]
// Other modes: `profile [--threads N]` (one epoch of the transformer student, phase by phase, op by op vs fused, full
// vs truncated length), `profile-mlp [case] [--threads N]` (MlpStepProfile: an MLP student's KD step phase by phase),
// `accuracy spec ...` (TransformerAccuracySweep: test accuracy for given settings) and
// `endpoint [case ...]` (TeacherEndpointComparison: labels-only endpoint teacher vs the teacher file, seeds 0-2).
if (args.FirstOrDefault() == "profile")
{
    TrainingStepProfile.Run(FindShared(), args.SkipWhile(a => a != "--threads").Skip(1).Select(int.Parse).DefaultIfEmpty(1).First());
    return;
}
if (args.FirstOrDefault() == "profile-mlp")
{
    MlpStepProfile.Run(FindShared(), args.Skip(1).FirstOrDefault(a => !a.StartsWith("--")) ?? "wine-mlp", args.SkipWhile(a => a != "--threads").Skip(1).Select(int.Parse).DefaultIfEmpty(1).First());
    return;
}
if (args.FirstOrDefault() == "endpoint")
{
    TeacherEndpointComparison.Run(FindShared(), args.Skip(1).DefaultIfEmpty("synthetic-intent-transformer"));
    return;
}
if (args.FirstOrDefault() == "accuracy")
{
    TransformerAccuracySweep.Run(FindShared(), args.Skip(1));
    return;
}
var cases = args.Where(a => !a.StartsWith("--") && !int.TryParse(a, out _)).DefaultIfEmpty("synthetic-intent-transformer").ToList();
int? threads = args.SkipWhile(a => a != "--threads").Skip(1).Select(int.Parse).Cast<int?>().FirstOrDefault();
// --baseline: also run each case op by op at full length (no LayerNorm/GELU fusion, no length truncation), side by side.
bool baseline = args.Contains("--baseline");
var root = FindShared();
Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {Environment.OSVersion}, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the start; torch threads {threads?.ToString() ?? "all"}");
Console.WriteLine("| case | epochs | batch | samples/epoch | ModelBuild (TorchSharp) s | samples/s | PyTorch reference s | samples/s | ratio |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
foreach (var (name, fast) in cases.SelectMany(c => baseline ? new[] { (c, true), (c, false) } : new[] { (c, true) }))
{
    string dir = Path.Combine(root, "teachers", name);
    var train = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json"))).RootElement.GetProperty("student_kd").GetProperty("train");
    int epochs = train.GetProperty("epochs").GetInt32(), batch = train.GetProperty("batch_size").GetInt32();
    double pytorchSeconds = train.GetProperty("wall_time_s").GetDouble();
    string output = Path.Combine(Path.GetTempPath(), $"mb-bench-{name}.onnx");
    var stopwatch = Stopwatch.StartNew();
    var epochCpu = new EpochCpu();
    var result = StudentDistiller.Distill(new DistillationOptions
    {
        TeacherPath = Path.Combine(dir, "teacher.onnx"), StudentPath = Path.Combine(dir, "student_scratch.onnx"), Reinitialize = true,
        OutputPath = output, TrainingData = TrainingData(dir), TrainingLabels = Path.Combine(dir, "train_y.npy"),
        Epochs = epochs, BatchSize = batch, LearningRate = train.GetProperty("lr").GetDouble(),
        WeightDecay = train.GetProperty("weight_decay").GetDouble(),
        WarmupFraction = train.TryGetProperty("warmup_frac", out var w) ? w.GetDouble() : 0,
        GradientClipNorm = train.TryGetProperty("grad_clip", out var g) ? g.GetDouble() : null, Threads = threads,
        FuseOperators = fast, TruncateSequences = fast,
    }, epochCpu);
    File.Delete(output);
    double samples = (double)result.TrainingSamples * result.EpochsRun;
    Console.WriteLine($"| {name}{(fast ? "" : " (op by op, full length)")} | {epochs} | {batch} | {result.TrainingSamples} | {result.TrainingSeconds:F2} | {samples / result.TrainingSeconds:F0} | {pytorchSeconds} | {samples / pytorchSeconds:F0} | {pytorchSeconds / result.TrainingSeconds:F2}x |");
    Console.WriteLine($"  (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end; whole run incl. loading and teacher precomputation: {stopwatch.Elapsed.TotalSeconds:F1}s; fused LayerNorm/GELU subgraphs: {result.FusedOperators}; sequence truncation {result.SequenceTruncation}; process CPU of epochs 2..{result.EpochsRun}: {epochCpu.AfterFirstEpoch:F2}s, of which the training thread {epochCpu.TrainingThreadAfterFirstEpoch:F2}s; busiest threads: {EpochCpu.BusiestThreads()}; {epochCpu.Jit})");
}

// One array (train_x.npy), or a BERT-style teacher's input_ids/attention_mask/token_type_ids (intent-bert's train.npz),
// given to the distiller as a user gives it (--train-data).
static string TrainingData(string dir) => File.Exists(Path.Combine(dir, "train_x.npy")) ? Path.Combine(dir, "train_x.npy") : Path.Combine(dir, "train.npz");

static string FindShared()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "ModelBuild.sln"))) return Path.GetFullPath(Path.Combine(d.FullName, "..", "shared"));
    throw new DirectoryNotFoundException("ModelBuild.sln");
}

/// <summary>
/// Process CPU time (all threads: torch, GC, finalizer, JIT) from the end of the first epoch to the end of the last,
/// told by the distiller's per-epoch progress report (made on the training thread): the loop's steady-state cost,
/// which a loaded machine's scheduling does not stretch the way it stretches wall time. pytorch-parity/reference_loop.py
/// measures the same span.
/// </summary>
sealed class EpochCpu : IProgress<DistillationProgress>
{
    double _first = double.NaN, _last = double.NaN, _threadFirst = double.NaN, _threadLast = double.NaN;

    public double AfterFirstEpoch => _last - _first;

    /// <summary>The same span's CPU time of the training thread alone.</summary>
    public double TrainingThreadAfterFirstEpoch => _threadLast - _threadFirst;

    // The JIT's methods and time (all threads) at the distiller's start, the end of epoch 1 and the last epoch.
    readonly (long Methods, TimeSpan Time) _jitAtStart = (JitInfo.GetCompiledMethodCount(), JitInfo.GetCompilationTime());
    (long Methods, TimeSpan Time) _jitFirst, _jitLast;

    /// <summary>What the JIT compiled in the process, in the distiller, and in epochs 2..N (the span of the CPU figure).</summary>
    public string Jit => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"JIT: process {JitInfo.GetCompiledMethodCount()} methods {JitInfo.GetCompilationTime().TotalSeconds:F2}s, distiller {_jitLast.Methods - _jitAtStart.Methods} methods {(_jitLast.Time - _jitAtStart.Time).TotalSeconds:F2}s, epochs 2..N {_jitLast.Methods - _jitFirst.Methods} methods {(_jitLast.Time - _jitFirst.Time).TotalSeconds:F2}s");

    public void Report(DistillationProgress value)
    {
        double now = CpuSeconds("self"), thread = CpuSeconds("thread-self");
        var jit = (JitInfo.GetCompiledMethodCount(), JitInfo.GetCompilationTime());
        if (value.Epoch == 1) (_first, _threadFirst, _jitFirst) = (now, thread, jit);
        (_last, _threadLast, _jitLast) = (now, thread, jit);
    }

    /// <summary>utime + stime of /proc/{self|thread-self}/stat, in seconds (clock ticks of 1/100 s).</summary>
    static double CpuSeconds(string which)
    {
        var fields = File.ReadAllText($"/proc/{which}/stat").Split(") ")[1].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0;
    }

    /// <summary>The process's threads that used the most CPU so far (name: seconds), to see what besides the training thread runs.</summary>
    public static string BusiestThreads() => string.Join(", ", Directory.GetDirectories("/proc/self/task")
        .Select(t => { try { var stat = File.ReadAllText(Path.Combine(t, "stat")); var f = stat.Split(") ")[1].Split(' '); return (Name: stat.Split('(')[1].Split(')')[0], Cpu: (long.Parse(f[11]) + long.Parse(f[12])) / 100.0); } catch (IOException) { return (Name: "?", Cpu: 0.0); } })
        .OrderByDescending(t => t.Cpu).Take(6).Select(t => $"{t.Name} {t.Cpu:F2}s"));
}
