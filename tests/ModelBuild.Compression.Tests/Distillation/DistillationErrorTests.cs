using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>Each MB03xx code, triggered by the bad input it describes; none may leave an output file.</summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class DistillationErrorTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mb-distill-err-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    string Output => Path.Combine(_dir, "out.onnx");
    static readonly TeacherCase Wine = new("wine-mlp");
    static readonly TeacherCase Breast = new("breast-cancer-mlp");

    ModelBuildException Fails(DistillationOptions options, string code)
    {
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(options));
        Assert.Equal(code, e.Code);
        Assert.False(File.Exists(Output), "an output was written");
        Assert.Empty(Directory.GetFiles(_dir));
        return e;
    }

    [Fact]
    public void MB0301_lists_every_unsupported_operator_with_its_nodes()
    {
        var e = Assert.Throws<ModelBuildException>(() => OnnxGraphImporter.Import(SharedMaterials.Path_("models", "fast-neural-style-candy", "model.onnx")));
        Assert.Equal("MB0301", e.Code);
        foreach (var op in new[] { "ImageScaler", "Crop", "Affine" }) Assert.Contains(op, e.Cause);
    }

    [Fact]
    public void MB0302_graph_reading_an_undefined_tensor()
    {
        var model = ModelBuild.Onnx.OnnxModel.Load(Wine.StudentScratch).Proto;
        model.Graph.Node[0].Input[0] = "nowhere";
        var e = Assert.Throws<ModelBuildException>(() => OnnxGraphImporter.Import(model, "broken.onnx"));
        Assert.Equal("MB0302", e.Code);
        Assert.Contains("nowhere", e.Cause);
    }

    [Fact]
    public void MB0303_label_count_differs_from_data_rows()
    {
        var labels = Path.Combine(Path.GetTempPath(), $"mb-short-labels-{Guid.NewGuid():N}.npy");
        NpyArray.Create(new long[] { 0, 1, 2 }, 3).Save(labels);
        try
        {
            var e = Fails(new DistillationOptions { TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Wine.File("train_x.npy"), TrainingLabels = labels, Epochs = 1 }, "MB0303");
            Assert.Contains("3 entries", e.Cause);
        }
        finally { File.Delete(labels); }
    }

    [Fact]
    public void MB0304_student_output_shape_differs_from_teacher()
    {
        // The breast-cancer student (30 -> 16 -> 2) with its last layer widened to 3 classes, against the 2-class teacher.
        var model = ModelBuild.Onnx.OnnxModel.Load(Breast.StudentScratch);
        var last = model.Proto.Graph.Initializer.Where(i => i.Dims.Count == 2).Last();
        var bias = model.Proto.Graph.Initializer.Where(i => i.Dims.Count == 1).Last();
        last.Dims[0] = 3; last.RawData = Google.Protobuf.ByteString.CopyFrom(new byte[3 * last.Dims[1] * 4]);
        bias.Dims[0] = 3; bias.RawData = Google.Protobuf.ByteString.CopyFrom(new byte[12]);
        var student = Path.Combine(Path.GetTempPath(), $"mb-3class-{Guid.NewGuid():N}.onnx");
        model.Save(student);
        try
        {
            var e = Fails(new DistillationOptions { TeacherPath = Breast.Teacher, StudentPath = student, OutputPath = Output, TrainingData = Breast.File("train_x.npy"), TrainingLabels = Breast.File("train_y.npy"), Epochs = 1 }, "MB0304");
            Assert.Contains("[2,3]", e.Cause);
            Assert.Contains("[2,2]", e.Cause);
        }
        finally { File.Delete(student); }
    }

    [Fact]
    public void MB0305_nan_loss_stops_names_the_epoch_and_suggests_a_lower_learning_rate()
    {
        var e = Fails(new DistillationOptions
        {
            TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Wine.File("train_x.npy"),
            TrainingLabels = Wine.File("train_y.npy"), Epochs = 3, LearningRate = 1e30, GradientClipNorm = null, WarmupFraction = 0,
        }, "MB0305");
        Assert.Matches("epoch [0-9]+", e.Cause);
        Assert.Contains("--learning-rate", e.Remedy);
    }

    [Fact]
    public void MB0306_label_outside_the_teachers_classes()
    {
        var labels = Path.Combine(Path.GetTempPath(), $"mb-bad-labels-{Guid.NewGuid():N}.npy");
        var y = NpyArray.Read(Wine.File("train_y.npy")).ToInt64Array();
        y[5] = 7;
        NpyArray.Create(y, y.Length).Save(labels);
        try { Assert.Contains("class 7", Fails(new DistillationOptions { TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Wine.File("train_x.npy"), TrainingLabels = labels, Epochs = 1 }, "MB0306").Cause); }
        finally { File.Delete(labels); }
    }

    /// <summary>
    /// Labels from a CSV label column: MB0306 names the data file and the entry (there is no --train-labels file, and it
    /// named none); a validation file's label column is checked too (a 7 lowered the validation accuracy without a word).
    /// </summary>
    [Theory]
    [InlineData("training")]
    [InlineData("validation")]
    public void MB0306_label_column_outside_the_teachers_classes_names_the_file_and_entry(string role)
    {
        var csvDir = Directory.CreateTempSubdirectory("mb-label-column-").FullName;
        try
        {
            string Csv(string name, string x, string y, int badEntry)
            {
                var rows = NpyArray.Read(Wine.File(x));
                var features = rows.ToSingleArray();
                var labels = NpyArray.Read(Wine.File(y)).ToInt64Array();
                if (badEntry >= 0) labels[badEntry] = 7;
                int width = (int)rows.Shape[1];
                var lines = new List<string> { string.Join(",", Enumerable.Range(0, width).Select(i => $"f{i}").Append("label")) };
                for (int r = 0; r < labels.Length; r++)
                    lines.Add(string.Join(",", features.Skip(r * width).Take(width).Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)).Append(labels[r].ToString())));
                var path = Path.Combine(csvDir, name);
                File.WriteAllLines(path, lines);
                return path;
            }
            string train = Csv("train.csv", "train_x.npy", "train_y.npy", role == "training" ? 6 : -1);
            string? validation = role == "validation" ? Csv("validation.csv", "test_x.npy", "test_y.npy", 4) : null;
            var e = Fails(new DistillationOptions
            {
                TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = train, ValidationData = validation,
                DataOptions = new DataReadOptions { LabelColumn = "label" }, Epochs = 1,
            }, "MB0306");
            string bad = validation ?? train;
            Assert.Contains($"The {role} labels in '{bad}' hold class 7 at entry {(role == "training" ? 6 : 4)}", e.Cause);
            Assert.Equal(bad, e.File);
        }
        finally { Directory.Delete(csvDir, true); }
    }

    [Fact]
    public void MB0307_data_with_the_wrong_feature_count()
    {
        Fails(new DistillationOptions { TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Breast.File("train_x.npy"), Epochs = 1 }, "MB0307");
    }

    [Fact]
    public void MB0308_invalid_settings()
    {
        Fails(new DistillationOptions { TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Wine.File("train_x.npy"), Temperature = 0 }, "MB0308");
        Fails(new DistillationOptions { TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Wine.File("train_x.npy"), Alpha = 1.5 }, "MB0308");
        Assert.Contains("--weight-decay", Fails(new DistillationOptions { TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Wine.File("train_x.npy"), WeightDecay = -0.01 }, "MB0308").Cause);
        Assert.Contains("--label-smoothing", Fails(new DistillationOptions { TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Wine.File("train_x.npy"), LabelSmoothing = 1 }, "MB0308").Cause);
        Assert.Contains("--dropout", Fails(new DistillationOptions { TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Wine.File("train_x.npy"), Dropout = 2 }, "MB0308").Cause);
        Fails(new DistillationOptions { TeacherPath = Wine.Teacher, OutputPath = Output, TrainingData = Wine.File("train_x.npy") }, "MB0308");
    }

    [Fact]
    public void MB0309_cannot_derive_a_student_from_a_graph_that_is_no_MLP_Conv_net_or_transformer()
    {
        // The wine MLP with an LpNormalization on its logits: no longer a Gemm chain, and no Conv or attention either.
        var model = ModelBuild.Onnx.OnnxModel.Load(Wine.Teacher).Proto;
        var last = model.Graph.Node[^1];
        string output = last.Output[0];
        last.Output[0] = "unnormalized";
        var norm = new global::Onnx.NodeProto { OpType = "LpNormalization", Name = "norm" };
        norm.Input.Add("unnormalized");
        norm.Output.Add(output);
        model.Graph.Node.Add(norm);
        string teacher = Path.Combine(Path.GetTempPath(), $"mb-normalized-wine-{Guid.NewGuid():N}.onnx");
        try
        {
            new ModelBuild.Onnx.OnnxModel(model).Save(teacher);
            Fails(new DistillationOptions { TeacherPath = teacher, StudentWidth = 0.5, OutputPath = Output, TrainingData = Wine.File("calib_x.npy"), Epochs = 1 }, "MB0309");
        }
        finally { File.Delete(teacher); }
    }

    [Fact]
    public void MB0310_unknown_feature_tensor()
    {
        Fails(new DistillationOptions
        {
            TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output, TrainingData = Wine.File("train_x.npy"),
            Loss = DistillationLossKind.Feature, FeaturePairs = new[] { new ModelBuild.Compression.Distillation.Losses.FeaturePair("no_such_tensor", "logits") }, Epochs = 1,
        }, "MB0310");
    }

    [Fact]
    public void MB0311_no_training_data()
    {
        Fails(new DistillationOptions { TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, OutputPath = Output }, "MB0311");
    }
}
