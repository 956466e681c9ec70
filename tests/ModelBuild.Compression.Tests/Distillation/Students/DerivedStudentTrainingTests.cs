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
    internal static double Agreement(string model)
    {
        var x = NpyArray.Read(Intent.File("test_x.npy"));
        int[] Top(string path)
        {
            // Batch-1 models are evaluated through their any-batch form (batch 1 computes the same).
            var model = OnnxModel.Load(path);
            if (DynamicBatch.IsFixedBatchOne(model.Proto)) DynamicBatch.Apply(model.Proto);
            using var session = new InferenceSession(model.ToBytes());
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

    [Fact]
    public void Derived_half_width_mnist_cnn_student_learns_to_agree_with_the_teacher()
    {
        // mnist-cnn-pytorch is exported with a fixed batch of 1: the distiller trains it in batches and writes the
        // student back with the same batch-1 interface.
        string teacher = SharedMaterials.Path_("models", "mnist-cnn-pytorch", "model.onnx");
        var teacherModel = OnnxModel.Load(teacher);
        DynamicBatch.Apply(teacherModel.Proto); // for the untrained reference below

        var (x, y) = ModelBuild.Compression.Tests.Pruning.MnistReader.Load(SharedMaterials.Path_("datasets", "mnist-t10k"));
        string data = Path.Combine(_dir, "mnist.npz");
        NpzArchive.Write(data, new Dictionary<string, NpyArray> { ["x"] = ModelBuild.Compression.Tests.Pruning.MnistReader.Rows(x, 0, 2000) });
        var heldOut = ModelBuild.Compression.Tests.Pruning.MnistReader.Rows(x, 8000, 1000);

        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.manual_seed(0);
        string initial = Path.Combine(_dir, "cnn-initial.onnx");
        using (var module = OnnxGraphImporter.Import(StudentDeriver.Derive(teacherModel.Proto, 0.5, 1.0, null, teacher), "derived"))
        {
            PyTorchDefaultInitializer.Apply(module);
            OnnxStudentExporter.Save(module, initial);
        }
        string trained = Path.Combine(_dir, "cnn-trained.onnx");
        // Unlabelled rows: pure KD on the teacher's outputs (log-probabilities, which softmax treats as logits).
        var result = StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = teacher, OutputPath = trained, StudentWidth = 0.5, TrainingData = data + ":x",
            Epochs = 10, BatchSize = 32, LearningRate = 3e-3, Seed = 0, Threads = 1,
        });
        var studentInput = OnnxModel.Load(trained).Proto.Graph.Input[0].Type.TensorType.Shape.Dim;
        Assert.Equal(1, studentInput[0].DimValue); // the teacher's batch-1 interface, as the file came
        double before = ImageAgreement(teacher, initial, heldOut), after = ImageAgreement(teacher, trained, heldOut);
        _output.WriteLine($"mnist-cnn-pytorch half-width student ({result.StudentParameters} parameters): agreement with the teacher on 1,000 held-out images {before:P2} untrained -> {after:P2} after {result.EpochsRun} epochs ({result.TrainingSeconds:F1} s)");
        Assert.Equal(5_675, result.StudentParameters);
        // This teacher applies a ReLU to its logits before LogSoftmax, so a freshly initialized copy of it learns slowly
        // (classes whose output unit starts negative get no gradient): re-initializing the teacher's own architecture
        // (width 1) and training it the same way reached 67.5% agreement on a validation split, so no derived-student
        // figure near 100% is expected from a short run from fresh weights; the check is that training moves it far from
        // chance. (The distiller now starts a derived student from the teacher's weights; 100% on 3 December 2026.)
        Assert.True(after > 0.7 && after > before + 0.5, $"agreement went from {before:P2} to {after:P2}");
    }

    static double ImageAgreement(string teacher, string student, NpyArray images)
    {
        int[] Top(string path)
        {
            // Batch-1 models are evaluated through their any-batch form (batch 1 computes the same).
            var model = OnnxModel.Load(path);
            if (DynamicBatch.IsFixedBatchOne(model.Proto)) DynamicBatch.Apply(model.Proto);
            using var session = new InferenceSession(model.ToBytes());
            using var input = OrtValue.CreateTensorValueFromMemory(images.ToSingleArray(), images.Shape);
            using var run = new RunOptions();
            using var outputs = session.Run(run, new[] { session.InputNames[0] }, new[] { input }, new[] { session.OutputNames[0] });
            var logits = outputs[0].GetTensorDataAsSpan<float>();
            var top = new int[images.Rows];
            for (int i = 0; i < top.Length; i++)
                for (int c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + top[i]]) top[i] = c;
            return top;
        }
        return (double)Top(teacher).Zip(Top(student)).Count(p => p.First == p.Second) / images.Rows;
    }
}
