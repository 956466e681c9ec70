using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Evaluation;

/// <summary>
/// Test accuracy (ONNX Runtime) of the stated intent student distilled with given settings: the sweep behind the
/// transformer accuracy table in RESULTS.md. Each spec is <c>epochs,lr,T,alpha,dropout,seed[,warmup]</c>.
/// </summary>
static class TransformerAccuracySweep
{
    public static void Run(string shared, IEnumerable<string> specs)
    {
        string dir = Path.Combine(shared, "teachers", "synthetic-intent-transformer");
        string output = Path.Combine(Path.GetTempPath(), $"mb-sweep-{Environment.ProcessId}.onnx");
        Console.WriteLine("| epochs | lr | T | alpha | dropout | seed | warm-up | test accuracy | training s | load |");
        Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var spec in specs)
        {
            var p = spec.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            double warmup = p.Length > 6 ? p[6] : 0.06;
            var result = StudentDistiller.Distill(new DistillationOptions
            {
                TeacherPath = Path.Combine(dir, "teacher.onnx"), StudentPath = Path.Combine(dir, "student_scratch.onnx"), Reinitialize = true,
                OutputPath = output, TrainingData = Path.Combine(dir, "train_x.npy"), TrainingLabels = Path.Combine(dir, "train_y.npy"),
                Epochs = (int)p[0], LearningRate = p[1], Temperature = p[2], Alpha = p[3], Dropout = p[4], Seed = (int)p[5],
                WarmupFraction = warmup, Threads = 1,
            });
            Console.WriteLine($"| {p[0]} | {p[1]} | {p[2]} | {p[3]} | {p[4]} | {p[5]} | {warmup:P0} | {Accuracy(dir, output) * 100:F2}% | {result.TrainingSeconds:F1} | {File.ReadAllText("/proc/loadavg").Split(' ')[0]} |");
        }
        File.Delete(output);
    }

    /// <summary>Test accuracy (0-1) through the product's own evaluator, as the pipeline's report computes it.</summary>
    static double Accuracy(string dir, string model) =>
        new ModelEvaluator(DataTensor.Load(Path.Combine(dir, "test_x.npy")), DataTensor.Load(Path.Combine(dir, "test_y.npy")), latencyRuns: 0)
            .Evaluate(model).Accuracy!.Value / 100;
}
