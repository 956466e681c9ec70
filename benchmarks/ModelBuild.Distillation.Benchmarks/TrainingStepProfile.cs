using System.Diagnostics;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Losses;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// Where one epoch of transformer KD goes (forward, backward, AdamW), op by op or fused, at the full exported length or
/// length-truncated: the same student, batches and loss as the distiller, timed per phase, side by side.
/// </summary>
static class TrainingStepProfile
{
    public static void Run(string shared, int threads)
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.set_num_threads(threads);
        string dir = Path.Combine(shared, "teachers", "synthetic-intent-transformer");
        var array = NpyArray.Read(Path.Combine(dir, "train_x.npy"));
        using var x = torch.tensor(array.ToInt64Array(), array.Shape);
        torch.manual_seed(0);
        using var teacherLogits = torch.randn(x.shape[0], 12); // the loss's cost does not depend on the values
        var proto = ModelBuild.Onnx.OnnxModel.Load(Path.Combine(dir, "student_scratch.onnx")).Proto;
        Console.WriteLine($"one epoch ({(x.shape[0] + 31) / 32} steps of 32), torch threads {threads}, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine("| student graph | length | epoch s | forward + loss s | backward s | AdamW s |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach (var (fuse, truncate) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            using var module = OnnxGraphImporter.Import(proto, "student", fuseOperators: fuse);
            var plan = truncate ? SequenceTruncation.TryCreate(module, x.slice(0, 0, 2, 1), out _) : null;
            var lengths = plan?.RowLengths(x);
            using var optimizer = torch.optim.AdamW(module.parameters(), 1e-3);
            var loss = new ResponseDistillationLoss(4, 1);
            module.train();
            var rows = Enumerable.Range(0, (int)x.shape[0]).ToArray();
            new Random(0).Shuffle(rows);
            var batches = StudentDistiller.EpochBatches(rows, 32, lengths, new Random(1));
            double forward = 0, backward = 0, step = 0;
            var clock = Stopwatch.StartNew();
            foreach (var batch in batches)
            {
                using var scope = torch.NewDisposeScope();
                double t0 = clock.Elapsed.TotalSeconds;
                var index = torch.tensor(batch.Select(i => (long)i).ToArray());
                var xb = x.index_select(0, index);
                if (lengths is not null) xb = xb.narrow(1, 0, batch.Max(i => lengths[i]));
                var logits = module.Run(new Dictionary<string, Tensor> { [module.InputNames[0]] = xb }, new[] { module.OutputNames[0] }, plan)[module.OutputNames[0]];
                var l = loss.Compute(logits, teacherLogits.index_select(0, index), null);
                l.item<float>();
                double t1 = clock.Elapsed.TotalSeconds;
                optimizer.zero_grad();
                l.backward();
                double t2 = clock.Elapsed.TotalSeconds;
                optimizer.step();
                double t3 = clock.Elapsed.TotalSeconds;
                forward += t1 - t0; backward += t2 - t1; step += t3 - t2;
            }
            Console.WriteLine($"| {(fuse ? $"fused ({module.FusedOperators} LayerNorm/GELU)" : "op by op")} | {(truncate ? "cut to batch's longest" : "32 (full)")} | {clock.Elapsed.TotalSeconds:F2} | {forward:F2} | {backward:F2} | {step:F2} |");
        }
        Console.WriteLine($"load {File.ReadAllText("/proc/loadavg").Split(' ')[0]} at the end");
    }
}
