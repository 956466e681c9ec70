using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Compression.Distillation.Synthetic;
using ModelBuild.Compression.Tests.Pruning;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation.Students;

/// <summary>
/// <c>--synthetic N</c> with no training data: DeepInversion inputs from a BatchNorm teacher's statistics. The teacher
/// is <see cref="BatchNormCnn"/> trained here on MNIST t10k rows 0..3999 (none of ../shared's trained models has
/// BatchNorm); the student sees only generated images and is scored on held-out rows 8000..9999.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class DataFreeDistillationTests : IDisposable
{
    const int TeacherRows = 4000, HeldOutStart = 8000, HeldOutRows = 2000;
    readonly ITestOutputHelper _output;
    readonly string _dir = Directory.CreateTempSubdirectory("mb-datafree-").FullName;

    public DataFreeDistillationTests(ITestOutputHelper output) => _output = output;
    public void Dispose() => Directory.Delete(_dir, true);

    static readonly Lazy<(NpyArray X, NpyArray Y)> Mnist = new(() => MnistReader.Load(SharedMaterials.Path_("datasets", "mnist-t10k")));

    /// <summary>Trains <see cref="BatchNormCnn"/> in TorchSharp (BN in train mode updates its running statistics) and exports it.</summary>
    string TrainTeacher()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.set_num_threads(1);
        torch.manual_seed(0);
        var (x, y) = Mnist.Value;
        using var images = torch.tensor(MnistReader.Rows(x, 0, TeacherRows).ToSingleArray(), new long[] { TeacherRows, 1, 28, 28 });
        using var labels = torch.tensor(MnistReader.Rows(y, 0, TeacherRows).ToInt64Array(), new long[] { TeacherRows });
        using var module = OnnxGraphImporter.Import(BatchNormCnn.Build(), "bn-cnn");
        PyTorchDefaultInitializer.Apply(module);
        module.train();
        using var optimizer = torch.optim.Adam(module.parameters(), 2e-3);
        var order = Enumerable.Range(0, TeacherRows).ToArray();
        var random = new Random(0);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            random.Shuffle(order);
            for (int b = 0; b < TeacherRows; b += 64)
            {
                using var scope = torch.NewDisposeScope();
                var index = torch.tensor(order.Skip(b).Take(64).Select(i => (long)i).ToArray());
                var loss = nn.functional.cross_entropy(module.forward(images.index_select(0, index)), labels.index_select(0, index));
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            }
        }
        module.eval();
        string path = Path.Combine(_dir, "bn-teacher.onnx");
        OnnxStudentExporter.Save(module, path);
        return path;
    }

    static int[] TeacherClasses(string model, float[] images, int count)
    {
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(images, new long[] { count, 1, 28, 28 });
        using var run = new RunOptions();
        using var outputs = session.Run(run, new[] { session.InputNames[0] }, new[] { input }, new[] { session.OutputNames[0] });
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        var perClass = new int[10];
        for (int i = 0; i < count; i++)
        {
            int best = 0;
            for (int c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
            perClass[best]++;
        }
        return perClass;
    }

    static double HeldOutAccuracy(string model)
    {
        var (x, y) = Mnist.Value;
        var images = MnistReader.Rows(x, HeldOutStart, HeldOutRows).ToSingleArray();
        var labels = MnistReader.Rows(y, HeldOutStart, HeldOutRows).ToInt64Array();
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(images, new long[] { HeldOutRows, 1, 28, 28 });
        using var run = new RunOptions();
        using var outputs = session.Run(run, new[] { session.InputNames[0] }, new[] { input }, new[] { session.OutputNames[0] });
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        int correct = 0;
        for (int i = 0; i < HeldOutRows; i++)
        {
            int best = 0;
            for (int c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
            if (best == labels[i]) correct++;
        }
        return (double)correct / HeldOutRows;
    }

    [Fact]
    public void Student_distilled_only_on_DeepInversion_images_beats_chance_and_noise_on_held_out_MNIST_for_every_seed()
    {
        var watch = Stopwatch.StartNew();
        string teacher = TrainTeacher();
        double teacherAccuracy = HeldOutAccuracy(teacher);
        _output.WriteLine($"BN teacher: {teacherAccuracy:P2} on held-out t10k rows ({watch.Elapsed.TotalSeconds:F1} s)");
        Assert.True(teacherAccuracy > 0.9, $"the BN teacher only reached {teacherAccuracy:P2}");

        // The generated images are what the teacher calls their target classes, spread evenly: 20 per class of 200.
        using (var images = DeepInversionSynthesizer.Generate(OnnxModel.Load(teacher).Proto, teacher, 200, 3, new DeepInversionOptions { BatchSize = 100, Steps = 100 }))
        {
            var perClass = TeacherClasses(teacher, images.data<float>().ToArray(), 200);
            _output.WriteLine($"teacher's classes of 200 DeepInversion images: {string.Join(" ", perClass)}");
            Assert.All(perClass, count => Assert.InRange(count, 16, 24));
        }

        // The data-free student over seeds 0, 1 and 2 (each seed its own generated images, initial weights and batch
        // order; the teacher is the fixture and stays; the recipe is fixed, nothing is tuned on the held-out rows).
        // Measured 2026-12-03 (benchmarks/RESULTS.md, "Data-free distillation"): DeepInversion students 82.10%,
        // 74.40%, 78.60% (mean 78.37%), noise students 25.65%, 8.60%, 16.60%. The band: every seed above 70% and
        // 20 points above its noise student, the mean above 74% (each about 4 points under what was measured).
        var accuracies = new List<double>();
        for (int seed = 0; seed < 3; seed++)
        {
            var lines = new ProgressLines();
            var result = DistillDataFree(teacher, $"student-s{seed}.onnx", steps: 100, seed, lines);
            Assert.Equal(512, result.TrainingSamples);
            // 512 inputs in batches of 128: one synthesis line per batch reaches a sink that takes text, then the epochs.
            Assert.Equal(4, lines.Text.Count(l => l.StartsWith("synthetic: DeepInversion batch ", StringComparison.Ordinal)));
            Assert.Contains("synthetic: DeepInversion batch 4/4 (512/512 inputs", lines.Text[^1]);
            Assert.Equal(30, lines.Epochs);
            Assert.Equal(BatchNormCnn.TrainableParameters(4, 8, 1), result.StudentParameters);
            double accuracy = HeldOutAccuracy(result.OutputPath);

            // The same run with 0 optimization steps trains on the starting Gaussian noise: what the inversion adds.
            double noise = HeldOutAccuracy(DistillDataFree(teacher, $"noise-student-s{seed}.onnx", steps: 0, seed).OutputPath);
            _output.WriteLine($"seed {seed}: student on 512 DeepInversion images only {accuracy:P2} on held-out t10k rows (chance 10%), " +
                              $"on 512 Gaussian-noise images {noise:P2}; {result.StudentParameters} parameters, total {watch.Elapsed.TotalSeconds:F1} s");
            Assert.True(accuracy > 0.7, $"seed {seed}: the data-free student reached only {accuracy:P2}");
            Assert.True(accuracy > noise + 0.2, $"seed {seed}: DeepInversion ({accuracy:P2}) is not clearly better than noise ({noise:P2})");
            accuracies.Add(accuracy);
        }
        _output.WriteLine($"data-free students, seeds 0-2: {string.Join(", ", accuracies.Select(a => $"{a:P2}"))}, mean {accuracies.Average():P2}");
        Assert.True(accuracies.Average() > 0.74, $"mean {accuracies.Average():P2} over seeds 0-2");
    }

    sealed class ProgressLines : IProgress<DistillationProgress>, IProgress<string>
    {
        public List<string> Text { get; } = [];
        public int Epochs { get; private set; }
        public void Report(DistillationProgress value) => Epochs++;
        public void Report(string value) => Text.Add(value);
    }

    DistillationResult DistillDataFree(string teacher, string file, int steps, int seed, ProgressLines? progress = null) => StudentDistiller.Distill(new DistillationOptions
    {
        TeacherPath = teacher, OutputPath = Path.Combine(_dir, file),
        // Half the channels, one of the two same-shape Conv blocks: also checks that a derived Conv student trains.
        StudentWidth = 0.5, StudentDepth = 0.5,
        Synthetic = 512, DeepInversion = new DeepInversionOptions { BatchSize = 128, Steps = steps },
        Epochs = 30, BatchSize = 64, LearningRate = 2e-3, Seed = seed, Threads = 1,
    }, progress);

    [Fact]
    public void DeepInversion_is_deterministic_for_a_seed()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.set_num_threads(1);
        torch.manual_seed(1);
        using var module = OnnxGraphImporter.Import(BatchNormCnn.Build(), "bn-cnn");
        PyTorchDefaultInitializer.Apply(module);
        var teacher = OnnxStudentExporter.ToOnnx(module).Proto;
        var options = new DeepInversionOptions { BatchSize = 8, Steps = 3 };
        using var a = DeepInversionSynthesizer.Generate(teacher, "bn-cnn", 12, 7, options);
        using var b = DeepInversionSynthesizer.Generate(teacher, "bn-cnn", 12, 7, options);
        using var c = DeepInversionSynthesizer.Generate(teacher, "bn-cnn", 12, 8, options);
        Assert.Equal(new long[] { 12, 1, 28, 28 }, a.shape);
        Assert.Equal(a.data<float>().ToArray(), b.data<float>().ToArray());
        Assert.NotEqual(a.data<float>().ToArray(), c.data<float>().ToArray());
    }

    [Fact]
    public void Data_free_distillation_writes_byte_identical_students_for_a_seed()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.manual_seed(2);
        string teacher = Path.Combine(_dir, "init-teacher.onnx");
        using (var module = OnnxGraphImporter.Import(BatchNormCnn.Build(), "bn-cnn"))
        {
            PyTorchDefaultInitializer.Apply(module);
            OnnxStudentExporter.Save(module, teacher);
        }
        byte[] Run(string file) => File.ReadAllBytes(StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = teacher, OutputPath = Path.Combine(_dir, file), StudentWidth = 0.5, StudentDepth = 0.5,
            Synthetic = 48, DeepInversion = new DeepInversionOptions { BatchSize = 16, Steps = 5 },
            Epochs = 2, BatchSize = 16, Seed = 11, Threads = 1,
        }).OutputPath);
        Assert.Equal(Run("a.onnx"), Run("b.onnx"));
    }

    [Fact]
    public void MB0333_synthetic_without_samples_needs_a_BatchNorm_teacher()
    {
        var wine = new TeacherCase("wine-mlp");
        string output = Path.Combine(_dir, "out.onnx");
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = wine.Teacher, StudentPath = wine.StudentScratch, OutputPath = output, Synthetic = 100, Epochs = 1,
        }));
        Assert.Equal("MB0333", e.Code);
        Assert.Contains("BatchNormalization", e.Message);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void MB0334_DeepInversion_needs_fixed_input_dimensions()
    {
        var teacher = BatchNormCnn.Build();
        teacher.Graph.Input[0].Type.TensorType.Shape.Dim[2].DimParam = "height"; // [N, 1, height, 28]
        var e = Assert.Throws<ModelBuildException>(() => DeepInversionSynthesizer.Generate(teacher, "bn-cnn.onnx", 4, 0));
        Assert.Equal("MB0334", e.Code);
    }
}
