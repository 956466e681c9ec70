using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Onnx.Tensors;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;
using static ModelBuild.Compression.Tests.Distillation.RowGraphs;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// Class scores that a Relu before the output holds at 0 on every row (mnist-cnn-pytorch's fc2 -> Relu -> LogSoftmax)
/// get no gradient; <see cref="DeadOutputRepair"/> imprints exactly those classes from their rows' features (a class no
/// sampled row belongs to is left alone), and its check in train mode leaves BatchNorm's running statistics.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class DeadOutputRepairTests
{
    /// <summary>x[N,4] -> BatchNormalization -> Gemm (3 classes, class 2's bias -100) -> Relu -> LogSoftmax; or without the Relu.</summary>
    static ModelProto Model(bool relu)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "ModelBuild.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var g = model.Graph = new GraphProto { Name = "dead-class" };
        g.Input.Add(Value("x", 4));
        g.Initializer.Add(TensorData.Create("scale", new[] { 1f, 1f, 1f, 1f }, 4));
        g.Initializer.Add(TensorData.Create("shift", new[] { 0f, 0f, 0f, 0f }, 4));
        g.Initializer.Add(TensorData.Create("mean", new[] { 0.5f, 0.5f, 0.5f, 0.5f }, 4));
        g.Initializer.Add(TensorData.Create("var", new[] { 2f, 2f, 2f, 2f }, 4));
        g.Initializer.Add(TensorData.Create("w", TestMaterials.Random(12, 5, -1, 1), 3, 4));
        g.Initializer.Add(TensorData.Create("b", new[] { 0.1f, -0.2f, -100f }, 3));
        g.Node.Add(Node("BatchNormalization", ["x", "scale", "shift", "mean", "var"], "normed"));
        g.Node.Add(Node("Gemm", ["normed", "w", "b"], "scores", ("transB", 1)));
        if (relu) g.Node.Add(Node("Relu", ["scores"], "kept"));
        g.Node.Add(Node("LogSoftmax", [relu ? "kept" : "scores"], "y", ("axis", 1)));
        g.Output.Add(Value("y", 3));
        return model;
    }

    static TrainingInputs Sample() => TrainingInputs.Single("x", torch.tensor(TestMaterials.Random(64 * 4, 9, -3, 3)).reshape(64, 4));

    /// <summary>The "teacher's" class of each sample row: class 2 where feature 0 is above 1, else 0 or 1 by feature 1's sign.</summary>
    static Tensor Classes(TrainingInputs sample)
    {
        var x = sample.First;
        return torch.where(x.select(1, 0).gt(1), torch.tensor(2L), torch.where(x.select(1, 1).gt(0), torch.tensor(1L), torch.tensor(0L)));
    }

    [Fact]
    public void Only_the_class_no_row_reaches_is_imprinted_from_its_rows_and_BatchNorm_statistics_stay()
    {
        using var student = OnnxGraphImporter.Import(Model(relu: true));
        var sample = Sample();
        var classes = Classes(sample);
        var mean = student.InitializerBuffers.Single(kv => kv.Key == "mean").Value.data<float>().ToArray();
        var variance = student.InitializerBuffers.Single(kv => kv.Key == "var").Value.data<float>().ToArray();
        var bias = student.OnnxParameters["b"].data<float>().ToArray();
        var weight = student.OnnxParameters["w"].data<float>().ToArray();
        student.eval();

        var note = DeadOutputRepair.Apply(student, sample, classes);

        Assert.NotNull(note);
        Assert.Contains("class 2:", note);
        Assert.Contains("w imprinted", note);
        var newBias = student.OnnxParameters["b"].data<float>().ToArray();
        var newWeight = student.OnnxParameters["w"].data<float>().ToArray();
        // Classes 0 and 1 untouched (weights [3,4] row-major, transB), class 2's row and bias changed.
        Assert.Equal(bias[..2], newBias[..2]);
        Assert.Equal(weight[..8], newWeight[..8]);
        Assert.NotEqual(weight[8..], newWeight[8..]);
        Assert.Equal(mean, student.InitializerBuffers.Single(kv => kv.Key == "mean").Value.data<float>().ToArray());
        Assert.Equal(variance, student.InitializerBuffers.Single(kv => kv.Key == "var").Value.data<float>().ToArray());
        Assert.False(student.training);

        // Class 2's score now passes the Relu on most of its own rows and on few of the others (train mode, as the check ran).
        student.train();
        using (torch.no_grad())
        {
            var live = student.Run(sample.For(student), ["scores"])["scores"].select(1, 2).gt(0);
            var own = classes.eq(2);
            double onOwn = live.logical_and(own).sum().item<long>() / (double)own.sum().item<long>();
            double onOthers = live.logical_and(own.logical_not()).sum().item<long>() / (double)own.logical_not().sum().item<long>();
            Assert.True(onOwn >= 0.75 && onOthers <= 0.25, $"class 2's score is positive on {onOwn:P0} of its rows and {onOthers:P0} of the others");
        }
        student.eval();
        // A second check finds nothing dead.
        Assert.Null(DeadOutputRepair.Apply(student, sample, classes));
    }

    [Fact]
    public void A_class_no_sampled_row_belongs_to_is_left_alone()
    {
        // Class 2 scores <= 0 on every row, but the teacher puts none of the sampled rows in it: with 1,000 classes and
        // 512 rows that is most classes, healthy or not, so nothing is changed.
        using var student = OnnxGraphImporter.Import(Model(relu: true));
        var weight = student.OnnxParameters["w"].data<float>().ToArray();
        var bias = student.OnnxParameters["b"].data<float>().ToArray();
        Assert.Null(DeadOutputRepair.Apply(student, Sample(), torch.zeros(64, ScalarType.Int64)));
        Assert.Equal(weight, student.OnnxParameters["w"].data<float>().ToArray());
        Assert.Equal(bias, student.OnnxParameters["b"].data<float>().ToArray());
    }

    [Fact]
    public void The_check_draws_no_dropout_and_feeds_no_quantization_observer()
    {
        using var student = OnnxGraphImporter.Import(Model(relu: true));
        var sample = Sample();
        student.TrainingDropout = 0.5;
        var observed = new List<bool>();
        Func<string, Tensor, bool, Tensor> transform = (name, x, training) => { observed.Add(training); return x; };
        student.ValueTransform = transform;
        student.TransformedValues = new HashSet<string> { "normed" };

        torch.manual_seed(5);
        Assert.NotNull(DeadOutputRepair.Apply(student, sample, Classes(sample)));
        var next = torch.rand(4).data<float>().ToArray();
        torch.manual_seed(5);
        Assert.Equal(torch.rand(4).data<float>().ToArray(), next); // no draw from torch's generator in between
        Assert.Empty(observed);
        Assert.Equal(0.5, student.TrainingDropout);
        Assert.Same(transform, student.ValueTransform);
    }

    /// <summary>
    /// Through the distiller: a student file whose class 2 no row reaches is revived before its first epoch (the
    /// report's revivedOutputs), learns to predict class 2, and two runs write the same bytes.
    /// </summary>
    [Fact]
    public void The_distiller_revives_a_dead_class_reports_it_and_stays_deterministic()
    {
        var dir = TestMaterials.TempDir();
        var student = Path.Combine(dir, "student.onnx");
        ModelBuild.Compression.Quantization.OnnxModelAccess.Save(Model(relu: true), student);
        // The teacher: the same graph with a bias that lets class 2 win where feature 0 is large.
        var teacherModel = Model(relu: true);
        var w = teacherModel.Graph.Initializer.Single(i => i.Name == "w");
        teacherModel.Graph.Initializer.Remove(w);
        teacherModel.Graph.Initializer.Add(TensorData.Create("w", new[] { 0f, -1, 0, 0, 0, 1, 0, 0, 3, 0, 0, 0 }, 3, 4));
        var b = teacherModel.Graph.Initializer.Single(i => i.Name == "b");
        teacherModel.Graph.Initializer.Remove(b);
        teacherModel.Graph.Initializer.Add(TensorData.Create("b", new[] { 2f, 2f, -1f }, 3));
        var teacher = Path.Combine(dir, "teacher.onnx");
        ModelBuild.Compression.Quantization.OnnxModelAccess.Save(teacherModel, teacher);
        var data = TestMaterials.SaveNpy(dir, "x.npy", TestMaterials.Random(400 * 4, 11, -3, 3), 400, 4);

        DistillationResult Distill(string name, int augment = 0) => StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = teacher, StudentPath = student, OutputPath = Path.Combine(dir, name), TrainingData = data,
            Epochs = 3, BatchSize = 32, LearningRate = 1e-2, Threads = 1, Seed = 3, Augment = augment,
        });
        var first = Distill("a.onnx");
        var second = Distill("b.onnx");
        // With --augment the sample also holds variant rows, whose classes are the teacher's answers on the variants.
        Assert.Contains(Distill("augmented.onnx", augment: 2).RevivedOutputs, r => r.StartsWith("before epoch 1: class 2:", StringComparison.Ordinal));

        Assert.Contains(first.RevivedOutputs, r => r.StartsWith("before epoch 1: class 2:", StringComparison.Ordinal));
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "a.onnx")), File.ReadAllBytes(Path.Combine(dir, "b.onnx")));
        Assert.Equal(first.RevivedOutputs, second.RevivedOutputs);
        using var written = OnnxGraphImporter.Import(Path.Combine(dir, "a.onnx"));
        written.eval();
        using (torch.no_grad())
        {
            var x = torch.tensor(TestMaterials.Random(400 * 4, 11, -3, 3)).reshape(400, 4);
            var predicted = written.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"].argmax(1);
            Assert.True(predicted.eq(2).any().item<bool>(), "the revived class is never predicted");
        }
    }

    [Fact]
    public void Scores_that_reach_the_output_without_a_Relu_are_left_alone()
    {
        using var student = OnnxGraphImporter.Import(Model(relu: false));
        Assert.False(DeadOutputRepair.Applies(student));
        Assert.Null(DeadOutputRepair.Apply(student, Sample(), torch.zeros(64, ScalarType.Int64)));
        Assert.Equal(-100f, student.OnnxParameters["b"].data<float>()[2]);
    }
}
