using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;

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

    static double Accuracy(string dir, string model)
    {
        var x = NpyArray.Read(Path.Combine(dir, "test_x.npy"));
        var y = NpyArray.Read(Path.Combine(dir, "test_y.npy")).ToInt64Array();
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(model);
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x.ToInt64Array(), x.Shape);
        using var run = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var outputs = session.Run(run, new[] { session.InputNames[0] }, new[] { input }, new[] { session.OutputNames[0] });
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        int classes = logits.Length / y.Length, correct = 0;
        for (int i = 0; i < y.Length; i++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
            if (best == y[i]) correct++;
        }
        return (double)correct / y.Length;
    }
}
