using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Optimization;

// Usage: dotnet run -c Release --project benchmarks/ModelBuild.Optimization.Benchmarks -- [runs] [--all] [--without A,B] [name=model.onnx:data ...]
// For each model: optimize it (verified on the data), then time the unfused and fused graphs interleaved (1 intra-op
// thread, ORT_ENABLE_ALL, batch 1 and 32, median of runs), then profile both per operator type.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var root = FindRepoRoot();
var teachers = Path.GetFullPath(Path.Combine(root, "..", "shared", "teachers"));
// --all: every fusion (--optimize all) instead of the auto set; --without A,B leaves those out (what each costs or gains).
var every = args.Contains("--all");
args = args.Where(a => a != "--all").ToArray();
var without = args.SkipWhile(a => a != "--without").Skip(1).FirstOrDefault()?.Split(',') ?? [];
args = args.Where((a, i) => a != "--without" && (i == 0 || args[i - 1] != "--without")).ToArray();
var fusions = (every ? FusionRegistry.All() : FusionRegistry.Auto()).Where(f => !without.Contains(f.Name)).ToList();
var runs = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 300;
var cases = args.Skip(1).Select(a => a.Split('=', 2)).Select(p => (p[0], p[1].Split(':')[0], p[1].Split(':')[1])).ToList();
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
    foreach (var batch in new[] { 1, 32 })
    {
        var (unfused, fusedTime) = Interleaved(model, fused, data, batch, runs);
        Console.WriteLine($"  batch {batch,2}: wall   unfused {unfused.Wall,9:F1} us   fused {fusedTime.Wall,9:F1} us   speed-up {unfused.Wall / fusedTime.Wall:F2}x");
        Console.WriteLine($"  batch {batch,2}: thread CPU unfused {unfused.Cpu,9:F1} us   fused {fusedTime.Cpu,9:F1} us   speed-up {unfused.Cpu / fusedTime.Cpu:F2}x");
    }
    foreach (var batch in new[] { 1, 32 })
    {
        var before = Profile(model, data, batch, Math.Max(50, runs / 3), work);
        var after = Profile(fused, data, batch, Math.Max(50, runs / 3), work);
        Console.WriteLine($"  profile, batch {batch} (us per run, summed kernel time per operator type):");
        Console.WriteLine($"    {"unfused",-40} {"fused",-40}");
        var left = before.OrderByDescending(p => p.Value).Select(p => $"{p.Key,-26} {p.Value,8:F1}").ToList();
        var right = after.OrderByDescending(p => p.Value).Select(p => $"{p.Key,-26} {p.Value,8:F1}").ToList();
        for (var i = 0; i < Math.Max(left.Count, right.Count); i++)
            Console.WriteLine($"    {(i < left.Count ? left[i] : ""),-40} {(i < right.Count ? right[i] : "")}");
        Console.WriteLine($"    {"total " + before.Values.Sum().ToString("F1"),-40} {"total " + after.Values.Sum().ToString("F1")}");
    }
}
Directory.Delete(work, true);

// Medians of wall time and of the calling thread's CPU time (with one intra-op thread ONNX Runtime computes on the
// caller's thread): on a machine shared with other jobs the CPU time leaves out the time the thread waited for a core.
static ((double Wall, double Cpu) Unfused, (double Wall, double Cpu) Fused) Interleaved(string a, string b, InputSet data, int batch, int runs)
{
    using var ra = new ModelRunner(a, 1);
    using var rb = new ModelRunner(b, 1);
    var bound = ra.Bind(data, "data");
    var inputsA = ra.CreateInputs(bound, 0, batch);
    var inputsB = rb.CreateInputs(rb.Bind(data, "data"), 0, batch);
    var outA = ra.OutputNames.ToArray();
    var outB = rb.OutputNames.ToArray();
    using var options = new RunOptions();
    for (var i = 0; i < 20; i++) { ra.Session.Run(options, ra.InputNames, inputsA, outA).Dispose(); rb.Session.Run(options, rb.InputNames, inputsB, outB).Dispose(); }
    var ta = new List<double>();
    var tb = new List<double>();
    var ca = new List<double>();
    var cb = new List<double>();
    var clock = new Stopwatch();
    for (var i = 0; i < runs; i++)
    {
        // Alternate which goes first so that neither profits from the other's cache or from machine load drifting.
        foreach (var first in i % 2 == 0 ? new[] { true, false } : [false, true])
        {
            var cpu = ThreadCpu.Microseconds();
            clock.Restart();
            if (first) ra.Session.Run(options, ra.InputNames, inputsA, outA).Dispose();
            else rb.Session.Run(options, rb.InputNames, inputsB, outB).Dispose();
            (first ? ta : tb).Add(clock.Elapsed.TotalMicroseconds);
            (first ? ca : cb).Add(ThreadCpu.Microseconds() - cpu);
        }
    }
    return ((Median(ta), Median(ca)), (Median(tb), Median(cb)));
}

static double Median(List<double> values)
{
    values.Sort();
    return values[values.Count / 2];
}

static Dictionary<string, double> Profile(string model, InputSet data, int batch, int runs, string work)
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
    var totals = new Dictionary<string, double>();
    using var json = JsonDocument.Parse(File.ReadAllText(file));
    foreach (var e in json.RootElement.EnumerateArray())
    {
        if (e.GetProperty("cat").GetString() != "Node" || !e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
        var op = e.GetProperty("args").GetProperty("op_name").GetString()!;
        totals[op] = totals.GetValueOrDefault(op) + e.GetProperty("dur").GetDouble() / runs;
    }
    File.Delete(file);
    return totals;
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
