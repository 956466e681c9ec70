using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Optimization;

// Usage: dotnet run -c Release --project benchmarks/ModelBuild.Optimization.Benchmarks -- [runs] [--all | --trim] [--without A,B] [name=model.onnx:data ...]
//        ... -- [runs] --session-options data.npy model.onnx   (one model under each session setting, and the pool's call path)
//        ... -- [runs] --models data.npy label=a.onnx label=b.onnx ...   (given files, e.g. each quantized form, side by side)
// For each model: optimize it (verified on the data), then time the unfused and fused graphs interleaved (1 intra-op
// thread, ORT_ENABLE_ALL, batch 1 and 32, median of runs; with the sequence trim also the fused graph without it),
// then profile each per operator type.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var root = FindRepoRoot();
var teachers = Path.GetFullPath(Path.Combine(root, "..", "shared", "teachers"));
// --all: every fusion (--optimize all) instead of the auto set; --without A,B leaves those out (what each costs or gains).
var every = args.Contains("--all");
args = args.Where(a => a != "--all").ToArray();
var without = args.SkipWhile(a => a != "--without").Skip(1).FirstOrDefault()?.Split(',') ?? [];
args = args.Where((a, i) => a != "--without" && (i == 0 || args[i - 1] != "--without")).ToArray();
// --trim: the auto set plus SequenceTrim (the padded positions dropped; in --optimize all, not yet in auto).
var trim = args.Contains("--trim");
args = args.Where(a => a != "--trim").ToArray();
// --per-node (with --models): each node's median kernel time too, not only the sum per operator type.
var perNodeProfile = args.Contains("--per-node");
args = args.Where(a => a != "--per-node").ToArray();
var fusions = (every ? FusionRegistry.All() : trim ? [.. FusionRegistry.Auto(), new SequenceTrimFusion()] : FusionRegistry.Auto()).Where(f => !without.Contains(f.Name)).ToList();
var runs = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 300;
var cases = args.Skip(1).TakeWhile(a => a is not ("--models" or "--session-options")).Select(a => a.Split('=', 2)).Select(p => (p[0], p[1].Split(':')[0], p[1].Split(':')[1])).ToList();
if (cases.Count == 0)
{
    cases =
    [
        ("synthetic-intent teacher", Path.Combine(teachers, "synthetic-intent-transformer", "teacher.onnx"), Path.Combine(teachers, "synthetic-intent-transformer", "test_x.npy")),
        ("synthetic-intent student_kd", Path.Combine(teachers, "synthetic-intent-transformer", "student_kd.onnx"), Path.Combine(teachers, "synthetic-intent-transformer", "test_x.npy")),
        ("intent-bert teacher", Path.Combine(teachers, "intent-bert", "teacher.onnx"), Path.Combine(teachers, "intent-bert", "test.npz")),
    ];
}
var work = Directory.CreateTempSubdirectory("mb-optimize-bench").FullName;
// --session-options data.npy model.onnx: one model at batch 1 under each ONNX Runtime session setting that could pay
// for a small model on one thread, interleaved (Run with names and pre-allocated outputs, as `modelbuild bench`), plus
// the runtime pool's call path (RunWithBinding over OrtValues bound once) under the default settings.
if (args.Contains("--session-options"))
{
    var rest = args.SkipWhile(a => a != "--session-options").Skip(1).ToArray();
    var data = DataSource.ReadInputSet(rest[0], new DataReadOptions().ForModel(rest[1]));
    Console.WriteLine($"runs per median: {runs}; 1 intra-op thread; model {rest[1]}; data {rest[0]} (batch 1 = its first row)");
    var settings = new (string Label, Action<SessionOptions> Apply)[]
    {
        ("default (ORT_ENABLE_ALL)", _ => { }),
        ("ORT_ENABLE_EXTENDED", o => o.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED),
        ("ORT_ENABLE_BASIC", o => o.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC),
        ("memory pattern off", o => o.EnableMemoryPattern = false),
        ("CPU arena off", o => o.EnableCpuMemArena = false),
        ("session.disable_prepacking=1", o => o.AddSessionConfigEntry("session.disable_prepacking", "1")),
        ("session.intra_op.allow_spinning=0", o => o.AddSessionConfigEntry("session.intra_op.allow_spinning", "0")),
        ("default again (a control)", _ => { }),
        ("default, RunWithBinding (the pool's path)", _ => { }),
    };
    var sessions = settings.Select(s =>
    {
        var o = ModelRunner.CreateOptions(1);
        s.Apply(o);
        return new InferenceSession(rest[1], o);
    }).ToList();
    using var probe = new ModelRunner(rest[1], 1);
    var inputs = probe.CreateInputs(probe.Bind(data, "data"), 0, 1);
    var outNames = probe.OutputNames.ToArray();
    using var runOptions = new RunOptions();
    var outputs = sessions.Select(session =>
    {
        using var first = session.Run(runOptions, probe.InputNames, inputs, outNames);
        return first.Select(v => OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, v.GetTensorTypeAndShape().ElementDataType, v.GetTensorTypeAndShape().Shape)).ToArray();
    }).ToList();
    // Each setting has its own session, the binding one too: every timed call follows a call of another session, so
    // none runs on caches its predecessor warmed.
    var bound = sessions[^1];
    using var binding = bound.CreateIoBinding();
    for (var j = 0; j < inputs.Length; j++) binding.BindInput(probe.InputNames[j], inputs[j]);
    for (var j = 0; j < outNames.Length; j++) binding.BindOutput(outNames[j], outputs[^1][j]);
    var calls = sessions.SkipLast(1).Select((session, i) => (Action)(() => session.Run(runOptions, probe.InputNames, inputs, outNames, outputs[i])))
        .Append(() => bound.RunWithBinding(runOptions, binding)).ToArray();
    var labels = settings.Select(s => s.Label).ToArray();
    var times = calls.Select(_ => new List<double>()).ToArray();
    for (var w = 0; w < 100; w++) foreach (var call in calls) call();
    var clock = new Stopwatch();
    for (var i = 0; i < runs; i++)
        for (var k = 0; k < calls.Length; k++)
        {
            var m = (i + k) % calls.Length;
            clock.Restart();
            calls[m]();
            times[m].Add(clock.Elapsed.TotalMicroseconds);
        }
    var baseline = Median(times[0]);
    for (var i = 0; i < calls.Length; i++)
        Console.WriteLine($"  {labels[i],-42} {Median(times[i]),7:F2} us   vs default {baseline / Median(times[i]):F3}x");
    foreach (var session in sessions) session.Dispose();
    return;
}
// --models: no optimizing; the files the CLI wrote (float and each form of the same graph) timed interleaved in one
// process at batch 1 (the latency gate's batch), then profiled per operator type.
if (args.Contains("--models"))
{
    var rest = args.SkipWhile(a => a != "--models").Skip(1).ToArray();
    var models = rest.Skip(1).Select(a => a.Split('=', 2)).Select(p => (Label: p[0], Path: p[1])).ToList();
    var data = DataSource.ReadInputSet(rest[0], new DataReadOptions().ForModel(models[0].Path));
    Console.WriteLine($"runs per median: {runs}; ONNX Runtime 1 intra-op thread, ORT_ENABLE_ALL; {Environment.ProcessorCount} logical CPUs; data {rest[0]} (batch 1 = its first row)");
    var times = Interleaved(models.Select(m => m.Path).ToArray(), data, 1, runs);
    for (var i = 0; i < models.Count; i++)
        Console.WriteLine($"  batch  1: {models[i].Label,-22} {new FileInfo(models[i].Path).Length,9:N0} B  wall {times[i].Wall,8:F1} us  thread CPU {times[i].Cpu,8:F1} us   vs {models[0].Label}: wall {times[0].Wall / times[i].Wall:F2}x, CPU {times[0].Cpu / times[i].Cpu:F2}x");
    var profiles = models.Select(m => Profile(m.Path, data, 1, Math.Max(50, runs / 3), work)).ToList();
    Console.WriteLine("  profile, batch 1 (us per run: each node's median kernel time, summed per operator type; nodes):");
    for (var i = 0; i < models.Count; i++)
        Console.WriteLine($"    {models[i].Label}: " + string.Join(", ", profiles[i].OrderByDescending(x => x.Value).Select(x => $"{x.Key} {x.Value:F1}")) + $"; total {profiles[i].Values.Sum():F1}");
    if (perNodeProfile)
        for (var i = 0; i < models.Count; i++)
        {
            Console.WriteLine($"  per node, {models[i].Label} (us, median kernel time, graph order of the optimized session):");
            foreach (var (node, op, us) in ProfileNodes(models[i].Path, data, 1, Math.Max(50, runs / 3), work))
                Console.WriteLine($"    {op,-26} {us,7:F2}  {node}");
        }
    Directory.Delete(work, true);
    return;
}
Console.WriteLine($"fusions: {string.Join(", ", fusions.Select(f => f.Name))}");
Console.WriteLine($"runs per median: {runs}; ONNX Runtime 1 intra-op thread, ORT_ENABLE_ALL; {Environment.ProcessorCount} logical CPUs");
foreach (var (name, model, dataPath) in cases)
{
    var data = DataSource.ReadInputSet(dataPath, new DataReadOptions().ForModel(model));
    var fused = Path.Combine(work, Path.GetFileNameWithoutExtension(model) + "-" + name.GetHashCode().ToString("x") + ".fused.onnx");
    var result = new GraphOptimizer(fusions).Optimize(model, data.Take(64), fused, Path.Combine(work, "candidates"));
    Console.WriteLine();
    Console.WriteLine($"## {name}: {result.NodesBefore} -> {result.NodesAfter} nodes");
    foreach (var f in result.Fusions.Where(f => f.Matches > 0))
        Console.WriteLine($"  {f.Name} x{f.Matches}: {(f.Kept ? "kept" : "dropped")} max diff {f.MaxDifference:G3} {f.Note}");
    if (!result.Changed) continue;
    // The same fusions without the sequence trim: what operator fusion alone gives, beside what the trim adds.
    var graphs = new List<(string Label, string Path)> { ("unfused", model), ("fused", fused) };
    if (result.Fusions.Any(f => f.Name == "SequenceTrim" && f.Kept))
    {
        var noTrim = Path.Combine(work, Path.GetFileNameWithoutExtension(fused) + ".notrim.onnx");
        new GraphOptimizer(fusions.Where(f => f is not SequenceTrimFusion).ToList()).Optimize(model, data.Take(64), noTrim, Path.Combine(work, "candidates"));
        graphs.Insert(1, ("fused, no trim", noTrim));
    }
    foreach (var batch in new[] { 1, 32 })
    {
        var times = Interleaved(graphs.Select(g => g.Path).ToArray(), data, batch, runs);
        for (var i = 0; i < graphs.Count; i++)
            Console.WriteLine($"  batch {batch,2}: {graphs[i].Label,-15} wall {times[i].Wall,9:F1} us  thread CPU {times[i].Cpu,9:F1} us   speed-up vs unfused: wall {times[0].Wall / times[i].Wall:F2}x, CPU {times[0].Cpu / times[i].Cpu:F2}x");
    }
    foreach (var batch in new[] { 1, 32 })
    {
        var profiles = graphs.Select(g => Profile(g.Path, data, batch, Math.Max(50, runs / 3), work)).ToList();
        Console.WriteLine($"  profile, batch {batch} (us per run: each node's median kernel time, summed per operator type):");
        Console.WriteLine("    " + string.Concat(graphs.Select(g => $"{g.Label,-40}")));
        var columns = profiles.Select(p => p.OrderByDescending(x => x.Value).Select(x => $"{x.Key,-26} {x.Value,8:F1}").ToList()).ToList();
        for (var i = 0; i < columns.Max(c => c.Count); i++)
            Console.WriteLine("    " + string.Concat(columns.Select(c => $"{(i < c.Count ? c[i] : ""),-40}")));
        Console.WriteLine("    " + string.Concat(profiles.Select(p => $"{"total " + p.Values.Sum().ToString("F1"),-40}")));
    }
}
Directory.Delete(work, true);

// Medians of wall time and of the calling thread's CPU time (with one intra-op thread ONNX Runtime computes on the
// caller's thread): on a machine shared with other jobs the CPU time leaves out the time the thread waited for a core.
static (double Wall, double Cpu)[] Interleaved(string[] models, InputSet data, int batch, int runs)
{
    var runners = models.Select(m => new ModelRunner(m, 1)).ToArray();
    try
    {
        var inputs = runners.Select(r => r.CreateInputs(r.Bind(data, "data"), 0, batch)).ToArray();
        var outputs = runners.Select(r => r.OutputNames.ToArray()).ToArray();
        using var options = new RunOptions();
        for (var i = 0; i < 20; i++)
            for (var m = 0; m < runners.Length; m++) runners[m].Session.Run(options, runners[m].InputNames, inputs[m], outputs[m]).Dispose();
        var wall = models.Select(_ => new List<double>()).ToArray();
        var cpu = models.Select(_ => new List<double>()).ToArray();
        var clock = new Stopwatch();
        for (var i = 0; i < runs; i++)
        {
            // Rotate which goes first so that none profits from another's cache or from machine load drifting.
            for (var k = 0; k < runners.Length; k++)
            {
                var m = (i + k) % runners.Length;
                var c = ThreadCpu.Microseconds();
                clock.Restart();
                runners[m].Session.Run(options, runners[m].InputNames, inputs[m], outputs[m]).Dispose();
                wall[m].Add(clock.Elapsed.TotalMicroseconds);
                cpu[m].Add(ThreadCpu.Microseconds() - c);
            }
        }
        return models.Select((_, m) => (Median(wall[m]), Median(cpu[m]))).ToArray();
    }
    finally
    {
        foreach (var r in runners) r.Dispose();
    }
}

static double Median(List<double> values)
{
    values.Sort();
    return values[values.Count / 2];
}

static Dictionary<string, double> Profile(string model, InputSet data, int batch, int runs, string work)
{
    var totals = new Dictionary<string, double>();
    foreach (var (_, op, us) in ProfileNodes(model, data, batch, runs, work)) totals[op] = totals.GetValueOrDefault(op) + us;
    return totals;
}

// Each node of the optimized session: its operator and median kernel time (us), in the order the profile first saw them.
static List<(string Node, string Op, double Us)> ProfileNodes(string model, InputSet data, int batch, int runs, string work)
{
    using var options = ModelRunner.CreateOptions(1);
    options.EnableProfiling = true;
    options.ProfileOutputPathPrefix = Path.Combine(work, "profile");
    using var session = new InferenceSession(model, options);
    using var probe = new ModelRunner(model, 1);
    var inputs = probe.CreateInputs(probe.Bind(data, "data"), 0, batch);
    using var runOptions = new RunOptions();
    var outputs = session.OutputMetadata.Keys.ToArray();
    var names = session.InputMetadata.Keys.ToArray();
    for (var i = 0; i < runs; i++) session.Run(runOptions, names, inputs, outputs).Dispose();
    var file = session.EndProfiling();
    // Each node's median over the runs, not the mean: on a shared machine a run preempted inside one kernel would
    // charge that kernel the time the thread waited.
    var perNode = new Dictionary<string, (string Op, List<double> Times)>();
    using var json = JsonDocument.Parse(File.ReadAllText(file));
    foreach (var e in json.RootElement.EnumerateArray())
    {
        var name = e.GetProperty("name").GetString()!;
        if (e.GetProperty("cat").GetString() != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
        if (!perNode.TryGetValue(name, out var node)) perNode[name] = node = (e.GetProperty("args").GetProperty("op_name").GetString()!, []);
        node.Times.Add(e.GetProperty("dur").GetDouble());
    }
    File.Delete(file);
    return perNode.Select(n => (n.Key[..^"_kernel_time".Length], n.Value.Op, Median(n.Value.Times))).ToList();
}

static string FindRepoRoot()
{
    var dir = AppContext.BaseDirectory;
    while (dir is not null && !File.Exists(Path.Combine(dir, "ModelBuild.sln"))) dir = Path.GetDirectoryName(dir);
    return dir ?? throw new InvalidOperationException("Run from inside the repository.");
}

static class ThreadCpu
{
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    struct Timespec { public long Seconds; public long Nanoseconds; }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out Timespec value);

    const int ThreadCpuClock = 3; // CLOCK_THREAD_CPUTIME_ID (Linux)

    public static double Microseconds() => ClockGetTime(ThreadCpuClock, out var t) == 0 ? t.Seconds * 1e6 + t.Nanoseconds / 1e3 : double.NaN;
}
