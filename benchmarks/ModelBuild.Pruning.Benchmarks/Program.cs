// Pruning benchmark: prunes the shared teachers as the acceptance asks (with recovery by distillation
// on the full training split), then measures batch-1 latency of teacher and pruned model side by side in this
// process (ORT, one thread, alternating rounds, median of medians) and prints a Markdown table.
// Usage: dotnet run -c Release --project benchmarks/ModelBuild.Pruning.Benchmarks [-- case ...]
// Cases: wine-mlp breast-cancer-mlp mnist-cnn intent-heads-ffn intent-depth unstructured (default: all).
using System.Globalization;
using System.IO.Compression;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;

var cases = args.Length > 0 ? args : new[] { "wine-mlp", "breast-cancer-mlp", "mnist-cnn", "intent-heads-ffn", "intent-depth", "unstructured" };
string shared = FindShared();
var rows = new List<string>();
foreach (string name in cases)
{
    Console.Error.WriteLine($"== {name}");
    rows.Add(name switch
    {
        "wine-mlp" or "breast-cancer-mlp" => Tabular(name),
        "mnist-cnn" => Mnist(),
        "intent-heads-ffn" => IntentHeadsFfn(),
        "intent-depth" => IntentDepth(),
        "unstructured" => Unstructured(),
        _ => throw new ArgumentException($"unknown case {name}"),
    });
}
Console.WriteLine("| case | pruning | recovery | accuracy teacher -> pruned (drop) | parameters | FLOPs (batch 1) | latency teacher -> pruned (us, batch 1) |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
rows.ForEach(Console.WriteLine);

string Tabular(string teacher)
{
    string dir = Path.Combine(shared, "teachers", teacher);
    var x = NpyDataReader.Read(Path.Combine(dir, "test_x.npy"));
    var y = NpyDataReader.Read(Path.Combine(dir, "test_y.npy"));
    var model = OnnxModel.Load(Path.Combine(dir, "teacher.onnx"));
    var result = PruningSchedule.Run(model, new PruningScheduleOptions
    {
        Pruning = new PruningOptions { Fraction = 0.9 },
        Steps = 3,
        Recovery = new DistillationRecovery(Path.Combine(dir, "teacher.onnx"), Path.Combine(dir, "train_x.npy"), Path.Combine(dir, "train_y.npy"),
            new RecoveryTraining { Epochs = 30, BatchSize = 16, LearningRate = 3e-3, Threads = 1 }),
        Evaluator = new ModelEvaluator(x, y), LatencyRuns = 0,
    });
    return Row(teacher, "90% hidden neurons, 3 steps", "KD 30 epochs/step, full train split", model, result.Model, x, y);
}

string Mnist()
{
    var (x, y) = MnistT10k(Path.Combine(shared, "datasets", "mnist-t10k"));
    string folder = Directory.CreateTempSubdirectory("mb-prune-bench").FullName;
    string tx = Path.Combine(folder, "x.npy"), ty = Path.Combine(folder, "y.npy");
    Rows(x, 0, 8000).Save(tx);
    Rows(y, 0, 8000).Save(ty);
    var model = OnnxModel.Load(Path.Combine(shared, "models", "mnist-cnn-pytorch", "model.onnx"));
    var ex = NpyDataReader.ToDataTensor("mnist-t10k images", Rows(x, 8000, 2000));
    var ey = NpyDataReader.ToDataTensor("mnist-t10k labels", Rows(y, 8000, 2000));
    var result = PruningSchedule.Run(model, new PruningScheduleOptions
    {
        Pruning = new PruningOptions { Fraction = 0.5 },
        Recovery = new DistillationRecovery(model.FilePath!, tx, ty, new RecoveryTraining { Epochs = 3, BatchSize = 64, LearningRate = 2e-3, Threads = 2 }),
        Evaluator = new ModelEvaluator(ex, ey), LatencyRuns = 0,
    });
    Directory.Delete(folder, true);
    return Row("mnist-cnn-pytorch (t10k: 8,000 recover / 2,000 evaluate)", "50% conv channels + 50% fc1 neurons", "KD 3 epochs", model, result.Model, ex, ey);
}

string IntentHeadsFfn()
{
    string dir = Path.Combine(shared, "teachers", "synthetic-intent-transformer");
    var x = NpyDataReader.Read(Path.Combine(dir, "test_x.npy"));
    var y = NpyDataReader.Read(Path.Combine(dir, "test_y.npy"));
    var model = OnnxModel.Load(Path.Combine(dir, "teacher.onnx"));
    var result = PruningSchedule.Run(model, new PruningScheduleOptions
    {
        Pruning = new PruningOptions { Fraction = 0.5 },
        Recovery = new DistillationRecovery(Path.Combine(dir, "teacher.onnx"), Path.Combine(dir, "train_x.npy"), Path.Combine(dir, "train_y.npy"),
            new RecoveryTraining { Epochs = 2, BatchSize = 64, LearningRate = 1e-3, Threads = 2 }),
        Evaluator = new ModelEvaluator(x, y), LatencyRuns = 0,
    });
    return Row("synthetic-intent-transformer", "50% heads (4->2 per layer) + 50% FFN neurons", "KD 2 epochs, full train split", model, result.Model, x, y);
}

string IntentDepth()
{
    string dir = Path.Combine(shared, "teachers", "synthetic-intent-transformer");
    var x = NpyDataReader.Read(Path.Combine(dir, "test_x.npy"));
    var y = NpyDataReader.Read(Path.Combine(dir, "test_y.npy"));
    var model = OnnxModel.Load(Path.Combine(dir, "teacher.onnx"));
    var depth = DepthPruner.Prune(model, new DepthPruningOptions { LayersToRemove = 1, CalibrationData = NpyDataReader.Read(Path.Combine(dir, "calib_x.npy")) });
    var recovery = new DistillationRecovery(Path.Combine(dir, "teacher.onnx"), Path.Combine(dir, "train_x.npy"), Path.Combine(dir, "train_y.npy"),
        new RecoveryTraining { Epochs = 2, BatchSize = 64, LearningRate = 1e-3, Threads = 2 });
    var recovered = recovery.Recover(depth.Model, 1);
    string removed = string.Join(", ", depth.Layers.Where(l => l.Removed).Select(l => $"{l.Name} (influence {l.Influence:F3})"));
    return Row("synthetic-intent-transformer", $"depth: 1 of 2 layers dropped ({removed})", "KD 2 epochs, full train split", model, recovered, x, y);
}

string Unstructured()
{
    string dir = Path.Combine(shared, "teachers", "breast-cancer-mlp");
    var x = NpyDataReader.Read(Path.Combine(dir, "test_x.npy"));
    var y = NpyDataReader.Read(Path.Combine(dir, "test_y.npy"));
    var model = OnnxModel.Load(Path.Combine(dir, "teacher.onnx"));
    var sparse = UnstructuredMagnitudePruner.Prune(model, 0.9).Model;
    long Deflated(byte[] bytes)
    {
        using var memory = new MemoryStream();
        using (var d = new DeflateStream(memory, CompressionLevel.Optimal, true)) d.Write(bytes);
        return memory.Length;
    }
    long before = Deflated(model.ToBytes()), after = Deflated(sparse.ToBytes());
    return Row("breast-cancer-mlp", string.Format(CultureInfo.InvariantCulture, "unstructured 90% of weights (deflated file {0:N0} -> {1:N0} bytes, {2:F3}x)", before, after, (double)after / before),
        "none", model, sparse, x, y);
}

string Row(string name, string pruning, string recovery, OnnxModel teacher, OnnxModel pruned, DataTensor x, DataTensor y)
{
    var evaluator = new ModelEvaluator(x, y);
    double at = evaluator.Evaluate(teacher).Accuracy!.Value, ap = evaluator.Evaluate(pruned).Accuracy!.Value;
    // Alternate rounds so that machine noise hits both models alike.
    var lt = new List<double>();
    var lp = new List<double>();
    for (int round = 0; round < 7; round++)
    {
        lt.Add(evaluator.Latency(teacher, 300)!.Value);
        lp.Add(evaluator.Latency(pruned, 300)!.Value);
    }
    double mt = Median(lt), mp = Median(lp);
    long flopsT = Flops(teacher), flopsP = Flops(pruned);
    var c = CultureInfo.InvariantCulture;
    return string.Format(c, "| {0} | {1} | {2} | {3:F2}% -> {4:F2}% ({5:+0.00;-0.00;0.00}) | {6:N0} -> {7:N0} ({8:F3}x) | {9:N0} -> {10:N0} ({11:F3}x) | {12:F1} -> {13:F1} ({14:F2}x) |",
        name, pruning, recovery, at, ap, ap - at, teacher.ParameterCount, pruned.ParameterCount, (double)pruned.ParameterCount / teacher.ParameterCount,
        flopsT, flopsP, (double)flopsP / flopsT, mt, mp, mp / mt);
}

static long Flops(OnnxModel model)
{
    var proto = model.Proto.Clone();
    GraphNormalizer.Normalize(proto);
    return ModelCost.Flops(proto, TensorShapeProbe.Run(proto));
}

static double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);

static string FindShared()
{
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln")))
    {
        dir = dir.Parent;
    }
    return Path.GetFullPath(Path.Combine(dir?.FullName ?? throw new DirectoryNotFoundException("ModelBuild.sln"), "..", "shared"));
}

static (NpyArray X, NpyArray Y) MnistT10k(string folder)
{
    byte[] images = Gunzip(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"));
    byte[] labels = Gunzip(Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"));
    var x = new float[10000 * 784];
    for (int i = 0; i < x.Length; i++)
    {
        x[i] = (images[16 + i] / 255f - 0.1307f) / 0.3081f;
    }
    return (NpyArray.Create(x, 10000, 1, 28, 28), NpyArray.Create(labels.Skip(8).Take(10000).Select(b => (long)b).ToArray(), 10000));
}

static byte[] Gunzip(string path)
{
    using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
    using var memory = new MemoryStream();
    gz.CopyTo(memory);
    return memory.ToArray();
}

static NpyArray Rows(NpyArray a, int start, int count)
{
    long row = a.RowLength;
    long[] shape = a.Shape.ToArray();
    shape[0] = count;
    return a.Data switch
    {
        float[] f => NpyArray.Create(f.AsSpan((int)(start * row), (int)(count * row)).ToArray(), shape),
        long[] l => NpyArray.Create(l.AsSpan((int)(start * row), (int)(count * row)).ToArray(), shape),
        _ => throw new NotSupportedException(a.ToString()),
    };
}
