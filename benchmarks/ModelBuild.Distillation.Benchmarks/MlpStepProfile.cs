using System.Diagnostics;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Losses;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// Where a small MLP student's KD step goes, timed phase by phase with a stopwatch (batch selection, schedule,
/// forward, loss, loss read, zero_grad, backward, AdamW, dispose scope; the first epoch apart: JIT warm-up), in the
/// distiller's loop as of 1a3c4b4 and as now, alternating, plus the wall time of one trivial TorchSharp call for scale.
/// Same student, data, batch order and settings as the distiller's default mode (the case's reference epochs and batch);
/// the teacher logits are random (their values do not change the cost). Thread and process CPU time are printed beside
/// the wall time: on the shared, loaded build machine they are the steadier figures.
/// </summary>
static class MlpStepProfile
{
    static readonly string[] Phases = ["batch select", "schedule", "forward", "loss", "loss read", "zero_grad", "backward", "AdamW", "scope dispose"];

    public static void Run(string shared, string name, int threads)
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.set_num_threads(threads);
        string dir = Path.Combine(shared, "teachers", name);
        var xa = NpyArray.Read(Path.Combine(dir, "train_x.npy"));
        var ya = NpyArray.Read(Path.Combine(dir, "train_y.npy"));
        using var x = torch.tensor(xa.ToSingleArray(), xa.Shape);
        using var y = torch.tensor(ya.ToInt64Array(), ya.Shape);
        torch.manual_seed(0);
        using var teacher = torch.randn(x.shape[0], y.max().item<long>() + 1);
        var proto = ModelBuild.Onnx.OnnxModel.Load(Path.Combine(dir, "student_scratch.onnx")).Proto;
        var train = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "reference.json"))).RootElement.GetProperty("student_kd").GetProperty("train");
        int epochs = train.GetProperty("epochs").GetInt32(), batchSize = train.GetProperty("batch_size").GetInt32();
        Console.WriteLine($"{name}: {epochs} epochs, batch {batchSize}, {x.shape[0]} rows, torch threads {threads}, load {Load()} at the start");
        Console.WriteLine($"| loop | loop s | thread CPU s | process CPU s | first epoch ms | {string.Join(" | ", Phases.Select(p => p + " us/step"))} | load |");
        Console.WriteLine($"| --- | --- | --- | --- | --- | {string.Join(" | ", Phases.Select(_ => "---"))} | --- |");
        // Alternating the two loops twice: the machine's load changes while they run.
        foreach (bool lean in new[] { false, true, false, true }) Loop(lean, proto, x, y, teacher, epochs, batchSize);

        // Scale: one trivial call (a + b on 32 x 16 floats), a Scalar-argument call and a small index tensor, each in a dispose scope.
        using var a = torch.randn(32, 16);
        using var b = torch.randn(32, 16);
        foreach (var (what, op) in new (string, Action)[] { ("a.add(b)", () => a.add(b)), ("a.mul(2.0)", () => a.mul(2.0)), ("torch.tensor(long[32])", () => torch.tensor(new long[32])) })
        {
            for (int i = 0; i < 2000; i++) { using var s = torch.NewDisposeScope(); op(); }
            long c0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < 20000; i++) { using var s = torch.NewDisposeScope(); op(); }
            Console.WriteLine($"{what}: {Stopwatch.GetElapsedTime(c0).TotalMilliseconds * 1000 / 20000:F1} us per call (wall, load {Load()})");
        }
    }

    /// <summary>
    /// The distiller's step as of 1a3c4b4 (per-batch index_select, the teacher's log_softmax per batch, TorchSharp's
    /// AdamW), or as now (<paramref name="lean"/>: one gather per epoch then slices, the teacher's log-probabilities
    /// once, <see cref="LeanAdamW"/>).
    /// </summary>
    static void Loop(bool lean, ModelProto proto, Tensor x, Tensor y, Tensor teacher, int epochs, int batchSize)
    {
        torch.manual_seed(0);
        using var module = OnnxGraphImporter.Import(proto, "student");
        var parameters = module.parameters().ToList();
        using var torchSharpAdamW = lean ? null : torch.optim.AdamW(parameters, 1e-3);
        using var leanAdamW = lean ? new LeanAdamW(parameters, 1e-3) : null;
        var loss = new ResponseDistillationLoss(4, 0.9);
        using var teacherLogProbabilities = loss.TeacherLogProbabilities(teacher);
        module.train();
        var rows = Enumerable.Range(0, (int)x.shape[0]).ToArray();
        var shuffler = new Random(1);
        var first = new double[Phases.Length];
        var rest = new double[Phases.Length];
        long steps = 0;
        var threadCpu = CpuSeconds("thread-self");
        var processCpu = CpuSeconds("self");
        var clock = Stopwatch.StartNew();
        double firstEpoch = 0;
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            var acc = epoch == 1 ? first : rest;
            var perm = (int[])rows.Clone();
            shuffler.Shuffle(perm);
            var batches = StudentDistiller.EpochBatches(perm, batchSize, null, shuffler);
            using var epochScope = torch.NewDisposeScope();
            Tensor? ex = null, et = null, ey = null;
            long gather = Stopwatch.GetTimestamp();
            if (lean)
            {
                var index = torch.tensor(batches.SelectMany(r => r).Select(i => (long)i).ToArray());
                (ex, et, ey) = (x.index_select(0, index), teacherLogProbabilities.index_select(0, index), y.index_select(0, index));
            }
            acc[0] += Stopwatch.GetElapsedTime(gather).TotalMilliseconds;
            long offset = 0;
            foreach (var batch in batches)
            {
                long t0 = Stopwatch.GetTimestamp();
                var scope = torch.NewDisposeScope();
                Tensor xb, tb, yb;
                if (lean)
                {
                    (xb, tb, yb) = (ex!.slice(0, offset, offset + batch.Length, 1), et!.slice(0, offset, offset + batch.Length, 1), ey!.slice(0, offset, offset + batch.Length, 1));
                    offset += batch.Length;
                }
                else
                {
                    var index = torch.tensor(batch.Select(i => (long)i).ToArray());
                    (xb, tb, yb) = (x.index_select(0, index), teacher.index_select(0, index), y.index_select(0, index));
                }
                long t1 = Stopwatch.GetTimestamp();
                if (lean) leanAdamW!.LearningRate = 1e-3;
                else foreach (var g in torchSharpAdamW!.ParamGroups) g.LearningRate = 1e-3;
                long t2 = Stopwatch.GetTimestamp();
                var logits = module.Run(new Dictionary<string, Tensor> { [module.InputNames[0]] = xb }, new[] { module.OutputNames[0] })[module.OutputNames[0]];
                long t3 = Stopwatch.GetTimestamp();
                var l = lean ? loss.ComputeFromTeacherLogProbabilities(logits, tb, yb) : loss.Compute(logits, tb, yb);
                long t4 = Stopwatch.GetTimestamp();
                l.item<float>();
                long t5 = Stopwatch.GetTimestamp();
                if (lean) leanAdamW!.ZeroGrad(); else torchSharpAdamW!.zero_grad();
                long t6 = Stopwatch.GetTimestamp();
                l.backward();
                long t7 = Stopwatch.GetTimestamp();
                if (lean) leanAdamW!.Step(); else torchSharpAdamW!.step();
                long t8 = Stopwatch.GetTimestamp();
                scope.Dispose();
                long t9 = Stopwatch.GetTimestamp();
                long[] marks = [t0, t1, t2, t3, t4, t5, t6, t7, t8, t9];
                for (int p = 0; p < Phases.Length; p++) acc[p] += Stopwatch.GetElapsedTime(marks[p], marks[p + 1]).TotalMilliseconds;
                if (epoch > 1) steps++;
            }
            if (epoch == 1) firstEpoch = clock.Elapsed.TotalSeconds;
        }
        double total = clock.Elapsed.TotalSeconds, cpu = CpuSeconds("thread-self") - threadCpu, allCpu = CpuSeconds("self") - processCpu;
        string label = lean ? "now (gather per epoch, teacher log-probabilities once, LeanAdamW)" : "1a3c4b4 (per-batch gather, TorchSharp AdamW)";
        Console.WriteLine($"| {label} | {total:F2} | {cpu:F2} | {allCpu:F2} | {firstEpoch * 1000:F0} | {string.Join(" | ", rest.Select(r => (r * 1000 / steps).ToString("F0")))} | {Load()} |");
    }

    /// <summary>CPU time of the calling thread (torch runs its one intra-op thread's work on it) or of the process (GC, finalizer, JIT threads too), from /proc.</summary>
    static double CpuSeconds(string which)
    {
        var fields = File.ReadAllText($"/proc/{which}/stat").Split(") ")[1].Split(' ');
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0; // utime + stime, in clock ticks of 1/100 s
    }

    static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
