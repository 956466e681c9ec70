using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Onnx;
using TorchSharp;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Distillation.Students;

/// <summary>A student derived from the intent transformer trains: a short distillation run raises its agreement with the teacher.</summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class DerivedStudentTrainingTests : IDisposable
{
    static readonly TeacherCase Intent = new("synthetic-intent-transformer");
    readonly ITestOutputHelper _output;
    readonly string _dir = Directory.CreateTempSubdirectory("mb-derived-").FullName;

    public DerivedStudentTrainingTests(ITestOutputHelper output) => _output = output;
    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Fraction of test rows where the model's top class equals the teacher's, in ONNX Runtime.</summary>
    static double Agreement(string model)
    {
        var x = NpyArray.Read(Intent.File("test_x.npy"));
        int[] Top(string path)
        {
            using var session = new InferenceSession(path);
            using var input = OrtValue.CreateTensorValueFromMemory((long[])x.Data, x.Shape);
            using var run = new RunOptions();
            using var outputs = session.Run(run, new[] { session.InputNames[0] }, new[] { input }, new[] { session.OutputNames[0] });
            var logits = outputs[0].GetTensorDataAsSpan<float>();
            int classes = logits.Length / (int)x.Rows;
            var top = new int[x.Rows];
            for (int i = 0; i < top.Length; i++)
                for (int c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + top[i]]) top[i] = c;
            return top;
        }
        var t = Top(Intent.Teacher);
        var s = Top(model);
        return (double)t.Zip(s).Count(p => p.First == p.Second) / t.Length;
    }

    [Fact]
    public void Derived_intent_transformer_student_learns_to_agree_with_the_teacher()
    {
        // The student before training: the derived graph with PyTorch's default initialization, as the distiller starts it.
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.manual_seed(0);
        var derived = StudentDeriver.Derive(OnnxModel.Load(Intent.Teacher).Proto, 0.5, 0.5, 0.25, Intent.Teacher);
        string initial = Path.Combine(_dir, "initial.onnx");
        using (var module = OnnxGraphImporter.Import(derived, "derived"))
        {
            PyTorchDefaultInitializer.Apply(module);
            OnnxStudentExporter.Save(module, initial);
        }
        double before = Agreement(initial);

        // The first 1200 training rows keep the run short; the test split is the case's own.
        const int rows = 1200;
        string subset = Path.Combine(_dir, "train.npz");
        NpzArchive.Write(subset, new Dictionary<string, NpyArray>
        {
            ["x"] = ModelBuild.Compression.Tests.Pruning.MnistReader.Rows(NpyArray.Read(Intent.File("train_x.npy")), 0, rows),
            ["y"] = ModelBuild.Compression.Tests.Pruning.MnistReader.Rows(NpyArray.Read(Intent.File("train_y.npy")), 0, rows),
        });
        string trained = Path.Combine(_dir, "trained.onnx");
        var result = StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = Intent.Teacher, OutputPath = trained, StudentWidth = 0.5, StudentFfnWidth = 0.25, StudentDepth = 0.5,
            TrainingData = subset + ":x", TrainingLabels = subset + ":y",
            Epochs = 6, BatchSize = 32, LearningRate = 5e-3, Seed = 0, Threads = 1,
        });
        double after = Agreement(trained);
        double accuracy = Intent.OrtTestAccuracy(trained);
        _output.WriteLine($"derived student ({result.StudentParameters} parameters): agreement with the teacher {before:P2} untrained -> {after:P2} after {result.EpochsRun} epochs ({result.TrainingSeconds:F1} s); test accuracy {accuracy:P2}");
        Assert.Equal(76_556, result.StudentParameters);
        Assert.True(after > before + 0.3, $"agreement went from {before:P2} to {after:P2}");
        Assert.True(after > 0.7, $"agreement after training is only {after:P2}");
    }
}
