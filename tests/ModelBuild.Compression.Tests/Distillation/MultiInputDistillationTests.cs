using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Onnx.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// Distillation of the three-input intent-bert teacher (input_ids, attention_mask, token_type_ids) into its PyTorch
/// reference student, from the .npz arrays and from the TSV text through the tokenizer: a few epochs, checking what
/// must hold (loss falls, the exported student runs in ONNX Runtime with the three inputs and equals its TorchSharp
/// module, accuracy far above chance); the full KD figure is in benchmarks/RESULTS.md.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class MultiInputDistillationTests : IDisposable
{
    static readonly string[] Inputs = ["input_ids", "attention_mask", "token_type_ids"];
    readonly string _dir = Directory.CreateTempSubdirectory("mb-multi-kd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static string T(string file) => SharedMaterials.Teachers("intent-bert", file);

    static TrainingInputs Val(int rows) => new(Inputs.Select(n =>
    {
        var a = NpyDataReader.ReadArray(T("val.npz") + ":" + n);
        return (n, torch.tensor(a.ToInt64Array(), a.Shape).slice(0, 0, rows, 1));
    }));

    DistillationOptions Options(string data, string? labels, DataReadOptions? read, string output, int epochs = 4, string? student = null) => new()
    {
        TeacherPath = T("teacher.onnx"),
        StudentPath = student ?? T("student_scratch.onnx"),
        Reinitialize = true,
        TrainingData = data,
        TrainingLabels = labels,
        DataOptions = read,
        OutputPath = Path.Combine(_dir, output),
        Epochs = epochs,
        BatchSize = 64,
        LearningRate = 2e-3,
        Seed = 1,
        Threads = 2,
    };

    sealed class Losses : IProgress<DistillationProgress>
    {
        public List<double> Values { get; } = new();
        public void Report(DistillationProgress value) => Values.Add(value.TrainLoss);
    }

    /// <summary>The exported student in ONNX Runtime: equal to the same file imported into TorchSharp, and its val accuracy.</summary>
    static double CheckExported(string path)
    {
        var val = Val(360);
        var yArray = NpyArray.Read(T("val_y.npy"));
        var y = torch.tensor(yArray.ToInt64Array());
        using var ort = new OrtTensorBridge(path, threads: 1);
        Assert.Equal(Inputs.Order(), ort.InputNames.Order());
        var logits = ort.RunBatched(val, 128);
        using var module = OnnxGraphImporter.Import(path);
        module.eval();
        using (torch.no_grad())
            TensorAssert.Close(logits, module.Run(val.For(module))["logits"], 1e-4, "exported student in ONNX Runtime vs its TorchSharp module");
        return logits.argmax(1).eq(y).to_type(ScalarType.Float64).mean().item<double>();
    }

    [Fact]
    public void Student_distills_from_the_three_npz_inputs()
    {
        var losses = new Losses();
        var result = StudentDistiller.Distill(Options(T("train.npz"), T("train_y.npy"), null, "from-npz.onnx"), losses);
        Assert.StartsWith("on:", result.SequenceTruncation);
        Assert.Equal(4, losses.Values.Count);
        Assert.True(losses.Values[^1] < 0.8 * losses.Values[0], $"loss {string.Join(" -> ", losses.Values)}");
        double accuracy = CheckExported(result.OutputPath);
        Assert.True(accuracy > 0.2, $"val accuracy {accuracy:P1} after 4 epochs (chance 1/30)");
    }

    [Fact]
    public void Student_distills_from_text_through_the_tokenizer()
    {
        var read = new DataReadOptions { TextColumn = "text", LabelColumn = "intent", Tokenizer = T("vocab.txt"), ClassNames = T("labels.json") };
        var losses = new Losses();
        var result = StudentDistiller.Distill(Options(T("train.tsv"), null, read, "from-text.onnx"), losses);
        Assert.True(losses.Values[^1] < 0.8 * losses.Values[0], $"loss {string.Join(" -> ", losses.Values)}");
        // The tokenizer fills the same ids as train.npz: the same seed gives the same student as from the arrays.
        var fromNpz = StudentDistiller.Distill(Options(T("train.npz"), T("train_y.npy"), null, "from-npz.onnx", epochs: 1));
        var fromText = StudentDistiller.Distill(Options(T("train.tsv"), null, read, "from-text-1.onnx", epochs: 1));
        Assert.Equal(File.ReadAllBytes(fromNpz.OutputPath), File.ReadAllBytes(fromText.OutputPath));
        Assert.True(CheckExported(result.OutputPath) > 0.2);
    }

    [Fact]
    public void A_student_reading_an_input_the_teacher_lacks_is_MB0340()
    {
        var proto = ModelBuild.Onnx.OnnxModel.Load(T("student_scratch.onnx"));
        var renamed = proto.Proto.Graph.Input.First(i => i.Name == "token_type_ids");
        foreach (var node in proto.Proto.Graph.Node)
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == "token_type_ids") node.Input[i] = "segment_ids";
        renamed.Name = "segment_ids";
        var student = Path.Combine(_dir, "renamed.onnx");
        proto.Save(student);
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(Options(T("train.npz"), T("train_y.npy"), null, "never.onnx", student: student)));
        Assert.Equal("MB0340", e.Code);
        Assert.Contains("segment_ids", e.Cause);
        Assert.False(File.Exists(Path.Combine(_dir, "never.onnx")));
    }
}
