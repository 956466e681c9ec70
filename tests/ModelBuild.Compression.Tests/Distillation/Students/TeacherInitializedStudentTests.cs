using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Distillation.Students;

/// <summary>
/// A derived student starts from the teacher (DistilBERT's recipe: uniformly mapped layers, the most important units)
/// unless <c>--reinitialize</c>, and <c>--loss layerwise</c> distills mapped hidden states and attention, then exports
/// a student without the loss's projections.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class TeacherInitializedStudentTests : IDisposable
{
    static readonly TeacherCase Intent = new("synthetic-intent-transformer");
    readonly ITestOutputHelper _output;
    readonly string _dir = Directory.CreateTempSubdirectory("mb-teacher-init-").FullName;

    public TeacherInitializedStudentTests(ITestOutputHelper output) => _output = output;
    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData(2, 1, new[] { 1 })]
    [InlineData(12, 6, new[] { 1, 3, 5, 7, 9, 11 })]
    [InlineData(4, 3, new[] { 0, 2, 3 })]
    [InlineData(6, 6, new[] { 0, 1, 2, 3, 4, 5 })]
    public void Uniform_map_keeps_every_other_layer_and_the_last(int teacherLayers, int studentLayers, int[] expected) =>
        Assert.Equal(expected, LayerRun.UniformMap(teacherLayers, studentLayers));

    [Fact]
    public void Depth_only_student_keeps_the_teachers_weights_bit_for_bit()
    {
        var teacher = OnnxModel.Load(Intent.Teacher).Proto;
        var (student, kept) = StudentDeriver.DeriveWithOrigin(teacher, 1.0, 0.5, null, Intent.Teacher);
        Assert.NotNull(kept);
        Assert.Contains("keeps the teacher's layer 2 of 2", Assert.Single(kept!.Depth));
        var weights = teacher.Graph.Initializer.ToDictionary(t => t.Name);
        var floats = student.Graph.Initializer.Where(t => t.Dims.Count >= 2 && t.DataType == 1).ToList();
        Assert.True(floats.Count >= 6, $"only {floats.Count} weight matrices in the student");
        foreach (var w in floats)
        {
            Assert.True(weights.TryGetValue(w.Name, out var t), $"student weight {w.Name} is not the teacher's");
            Assert.Equal(t!.Dims, w.Dims);
            Assert.Equal(ModelBuild.Onnx.Tensors.TensorData.ToSingleArray(t), ModelBuild.Onnx.Tensors.TensorData.ToSingleArray(w));
        }
    }

    /// <summary>256 training rows: the runs below are one epoch, long enough to build and export the student.</summary>
    (string X, string Y) Subset()
    {
        string subset = Path.Combine(_dir, "train.npz");
        NpzArchive.Write(subset, new Dictionary<string, NpyArray>
        {
            ["x"] = ModelBuild.Compression.Tests.Pruning.MnistReader.Rows(NpyArray.Read(Intent.File("train_x.npy")), 0, 256),
            ["y"] = ModelBuild.Compression.Tests.Pruning.MnistReader.Rows(NpyArray.Read(Intent.File("train_y.npy")), 0, 256),
        });
        return (subset + ":x", subset + ":y");
    }

    DistillationResult Run(string output, bool reinitialize, DistillationLossKind loss = DistillationLossKind.Response, double learningRate = 1e-9, double width = 0.5)
    {
        var (x, y) = Subset();
        return StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = Intent.Teacher, OutputPath = output, StudentWidth = width, StudentDepth = 0.5, Reinitialize = reinitialize,
            TrainingData = x, TrainingLabels = y, Loss = loss, Epochs = 1, BatchSize = 32, LearningRate = learningRate, Seed = 0, Threads = 1,
        });
    }

    [Fact]
    public void Derived_student_agrees_with_the_teacher_before_training()
    {
        // Half depth at full width: the kept layer is the teacher's last, with its weights, so the student computes the
        // teacher without its first layer (31% agreement on the 12 classes; from PyTorch's initializers ~10%, chance
        // 8.3%). A learning rate of 1e-9 for one epoch leaves the starting weights: the written student is the one
        // the distiller started from.
        string fromTeacher = Path.Combine(_dir, "from-teacher.onnx");
        var result = Run(fromTeacher, reinitialize: false, width: 1.0);
        double agreement = DerivedStudentTrainingTests.Agreement(fromTeacher);
        _output.WriteLine($"half-depth student before training: agreement with the teacher {agreement:P2} ({result.Initialization}); 12 classes");
        Assert.StartsWith("the teacher's weights", result.Initialization);
        Assert.True(agreement > 0.2, $"the teacher-initialized student agrees on {agreement:P2} only");
    }

    [Fact]
    public void Layerwise_loss_maps_layers_trains_and_exports_the_student_without_projections()
    {
        string output = Path.Combine(_dir, "layerwise.onnx");
        var result = Run(output, reinitialize: false, DistillationLossKind.Layerwise, learningRate: 1e-3);
        _output.WriteLine($"layer map: {result.LayerMap}; loss {result.FinalTrainLoss:F4}");
        Assert.Equal("embeddings <- embeddings; student layer 1 <- teacher layer 2 (of 2); hidden states and attention distributions", result.LayerMap);
        Assert.True(double.IsFinite(result.FinalTrainLoss));
        // The written graph is the derived student's (hidden 64 against the teacher's 128: projections were trained, not exported).
        var derived = StudentDeriver.Derive(OnnxModel.Load(Intent.Teacher).Proto, 0.5, 0.5, null, Intent.Teacher);
        var written = OnnxModel.Load(output).Proto;
        Assert.Equal(derived.Graph.Initializer.Select(t => (t.Name, string.Join("x", t.Dims))).Order(), written.Graph.Initializer.Select(t => (t.Name, string.Join("x", t.Dims))).Order());
        Assert.Equal(derived.Graph.Node.Select(n => n.OpType), written.Graph.Node.Select(n => n.OpType));
        double accuracy = Intent.OrtTestAccuracy(output); // runs in ONNX Runtime on the test split
        _output.WriteLine($"test accuracy after one epoch on 256 rows: {accuracy:P2}");
        Assert.True(accuracy > 0.3, $"test accuracy {accuracy:P2}");
    }

    [Fact]
    public void MB0366_layerwise_loss_needs_transformer_layers()
    {
        var wine = new TeacherCase("wine-mlp");
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = wine.Teacher, OutputPath = Path.Combine(_dir, "wine.onnx"), StudentPath = wine.StudentScratch,
            TrainingData = wine.File("train_x.npy"), Loss = DistillationLossKind.Layerwise, Epochs = 1, Threads = 1,
        }));
        Assert.Equal("MB0366", e.Code);
        Assert.False(File.Exists(Path.Combine(_dir, "wine.onnx")));
    }
}
