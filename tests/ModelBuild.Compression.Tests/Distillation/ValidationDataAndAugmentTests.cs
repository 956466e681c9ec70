using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static ModelBuild.Compression.Tests.Distillation.RowGraphs;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// <c>--validation-data</c> (validation rows from their own file instead of a split) and <c>--augment N</c>
/// (TinyBERT-style teacher-labelled token variants on the intent-bert teacher and its text data; mixup of float rows).
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class ValidationDataAndAugmentTests(ITestOutputHelper output) : IDisposable
{
    static string T(string file) => SharedMaterials.Teachers("intent-bert", file);
    static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];
    readonly string _dir = Directory.CreateTempSubdirectory("mb-valdata-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static DataReadOptions Text => new() { Tokenizer = T("vocab.txt"), TextColumn = "text", LabelColumn = "intent", ClassNames = T("labels.json") };

    DistillationOptions Options(string name, int epochs = 2) => new()
    {
        TeacherPath = T("teacher.onnx"), StudentPath = T("student_scratch.onnx"), Reinitialize = true,
        OutputPath = Path.Combine(_dir, name), TrainingData = T("train.tsv"), DataOptions = Text,
        Epochs = epochs, BatchSize = 64, LearningRate = 2e-3, Seed = 1, Threads = 1,
    };

    /// <summary>Arg-max per row of a model on val.npz, in ONNX Runtime.</summary>
    static long[] OrtClasses(string model)
    {
        using var session = new InferenceSession(model);
        var arrays = InputNames.Select(n => NpyDataReader.ReadArray(T("val.npz") + ":" + n)).ToArray();
        var values = arrays.Select(a => OrtValue.CreateTensorValueFromMemory(a.ToInt64Array(), a.Shape)).ToArray();
        try
        {
            using var run = new RunOptions();
            using var outputs = session.Run(run, InputNames, values, new[] { session.OutputNames[0] });
            var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            int rows = (int)arrays[0].Shape[0], classes = logits.Length / rows;
            return Enumerable.Range(0, rows).Select(i => { var s = logits.AsSpan(i * classes, classes).ToArray(); return (long)Array.IndexOf(s, s.Max()); }).ToArray();
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    [Fact]
    public void Validation_rows_come_from_their_own_file_and_every_training_row_is_trained_on()
    {
        var result = StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = T("teacher.onnx"), StudentPath = T("student_scratch.onnx"), Reinitialize = true,
            OutputPath = Path.Combine(_dir, "val-file.onnx"), TrainingData = T("train.tsv"), DataOptions = Text,
            ValidationData = T("val.tsv"), Epochs = 3, BatchSize = 64, LearningRate = 2e-3, Seed = 1, Threads = 1,
        });
        Assert.Equal(360, result.ValidationSamples);
        Assert.Equal((2, 2 * 3240, 3 * 3240), (result.Augment, result.AugmentedSamples, result.TrainingSamples)); // every row, with the default variants
        Assert.InRange(result.SelectedEpoch, 1, 3);

        // The reported figures are the written student's on val.tsv (= val.npz, val_y.npy), measured here in ONNX Runtime:
        // agreement with the teacher file and accuracy against the file's labels (a row or two may flip between torch and ORT).
        var student = OrtClasses(result.OutputPath);
        var teacher = OrtClasses(T("teacher.onnx"));
        var labels = NpyArray.Read(T("val_y.npy")).ToInt64Array();
        double agreement = student.Zip(teacher).Count(p => p.First == p.Second) / 360.0, accuracy = student.Zip(labels).Count(p => p.First == p.Second) / 360.0;
        output.WriteLine($"reported agreement {result.ValidationAgreement:P2} accuracy {result.ValidationAccuracy:P2}; ORT {agreement:P2} / {accuracy:P2}");
        Assert.Equal(agreement, result.ValidationAgreement!.Value, 2.5 / 360);
        Assert.Equal(accuracy, result.ValidationAccuracy!.Value, 2.5 / 360);
    }

    [Fact]
    public void A_validation_file_and_a_validation_split_together_are_MB0370()
    {
        var o = Options("never.onnx");
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = o.TeacherPath, StudentPath = o.StudentPath, OutputPath = o.OutputPath, TrainingData = o.TrainingData,
            DataOptions = o.DataOptions, ValidationData = T("val.tsv"), ValidationFraction = 0.1,
        }));
        Assert.Equal("MB0370", e.Code);
        Assert.Contains("val.tsv", e.Message);
        Assert.False(File.Exists(o.OutputPath));
    }

    /// <summary>The variants of train.npz's rows as <see cref="TokenAugmentation"/> makes them for the teacher.</summary>
    static (TrainingInputs Rows, TrainingInputs Variants, Tensor Table) Variants(int seed, int rows = 200, int variants = 4)
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        var inputs = new TrainingInputs(InputNames.Select(n =>
        {
            var a = NpyDataReader.ReadArray(T("train.npz") + ":" + n);
            return (n, torch.tensor(a.ToInt64Array(), a.Shape).slice(0, 0, rows, 1));
        }));
        var teacher = OnnxModel.Load(T("teacher.onnx")).Proto;
        var (ids, table) = TokenAugmentation.FindEmbedding(teacher, inputs) ?? throw new InvalidOperationException("no embedding found");
        Assert.Equal("input_ids", ids);
        return (inputs, TokenAugmentation.Generate(inputs, ids, table, Enumerable.Range(0, rows).ToArray(), variants, seed, 0), TensorProtoConverter.ToTensor(table));
    }

    [Fact]
    public void Augmented_rows_replace_words_by_their_embedding_neighbours_keep_the_frame_and_are_deterministic()
    {
        var (rows, variants, table) = Variants(seed: 3);
        Assert.Equal(800, variants.Rows);
        var ids = variants.ByName()["input_ids"].reshape(200, 4, 32);
        var mask = variants.ByName()["attention_mask"].reshape(200, 4, 32);
        var original = rows.ByName()["input_ids"];
        // [CLS] first, [SEP] last real token, the mask exactly on the real tokens, padding 0.
        Assert.True(ids.select(2, 0).eq(2).all().item<bool>());
        Assert.True(mask.eq(ids.ne(0).to_type(ScalarType.Int64)).all().item<bool>());
        var lengths = mask.sum(2);
        Assert.True(ids.gather(2, lengths.sub(1).unsqueeze(2)).eq(3).all().item<bool>());

        // About 40 % of the word pieces are replaced (TinyBERT's p_t), each by a near piece in the teacher's embedding
        // space: replaced pairs are far more similar than random pairs of the same pieces.
        var same = original.unsqueeze(1).expand(200, 4, 32);
        var word = mask.eq(1).logical_and(ids.ne(2)).logical_and(ids.ne(3)).logical_and(lengths.eq(original.ne(0).sum(1).unsqueeze(1)).unsqueeze(2)); // rows without a deletion
        var replaced = word.logical_and(ids.ne(same));
        double fraction = replaced.sum().item<long>() / (double)word.sum().item<long>();
        output.WriteLine($"replaced {fraction:P1} of the word pieces");
        Assert.InRange(fraction, 0.3, 0.5);
        var unit = table.div(table.norm(1, keepdim: true));
        var from = same.masked_select(replaced);
        var to = ids.masked_select(replaced);
        double near = unit.index_select(0, from).mul(unit.index_select(0, to)).sum(1).mean().item<float>();
        var shuffled = to.index_select(0, torch.randperm(to.shape[0], generator: new torch.Generator(1)));
        double random = unit.index_select(0, from).mul(unit.index_select(0, shuffled)).sum(1).mean().item<float>();
        output.WriteLine($"cosine of replaced pairs {near:F3}, of shuffled pairs {random:F3}");
        Assert.True(near > random + 0.2, $"replacements {near:F3} vs random {random:F3}");

        // Deletions and swaps happen (EDA's edits), and the same seed gives the same rows, another seed others.
        Assert.True(lengths.lt(original.ne(0).sum(1).unsqueeze(1)).any().item<bool>(), "no row had a deletion");
        Assert.True(Variants(seed: 3).Variants.ByName()["input_ids"].eq(variants.ByName()["input_ids"]).all().item<bool>());
        Assert.False(Variants(seed: 4).Variants.ByName()["input_ids"].eq(variants.ByName()["input_ids"]).all().item<bool>());
    }

    [Fact]
    public void Augment_trains_on_the_teacher_labelled_variants_and_refuses_data_without_token_ids()
    {
        var result = StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = T("teacher.onnx"), StudentPath = T("student_scratch.onnx"), Reinitialize = true,
            OutputPath = Path.Combine(_dir, "augmented.onnx"), TrainingData = T("train.tsv"), DataOptions = Text,
            Augment = 2, ValidationFraction = 0.1, Epochs = 1, BatchSize = 64, LearningRate = 2e-3, Seed = 1, Threads = 1,
        });
        Assert.Equal(2 * 2916, result.AugmentedSamples); // the 2,916 training rows after holding out 324; validation rows are not varied
        Assert.Equal(3 * 2916, result.TrainingSamples);
        Assert.Equal(324, result.ValidationSamples);
        Assert.True(File.Exists(result.OutputPath));

    }

    /// <summary>
    /// Unset, a student from fresh weights on token ids gets AugmentationDefaults.FreshTokenStudent variants per row; one
    /// that starts from its file's (or the teacher's) weights, float features, and an explicit 0 get none.
    /// </summary>
    [Fact]
    public void Augment_defaults_by_kind_of_student()
    {
        DistillationResult Run(string name, bool reinitialize, int? augment) => StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = T("teacher.onnx"), StudentPath = T("student_scratch.onnx"), Reinitialize = reinitialize, Augment = augment,
            OutputPath = Path.Combine(_dir, name), TrainingData = T("train.tsv"), DataOptions = Text,
            ValidationFraction = 0.1, Epochs = 1, BatchSize = 64, LearningRate = 2e-3, Seed = 1, Threads = 1,
        });
        var fresh = Run("fresh.onnx", reinitialize: true, augment: null);
        Assert.Equal((2, 2 * 2916, 3 * 2916), (fresh.Augment, fresh.AugmentedSamples, fresh.TrainingSamples));
        var fromFile = Run("from-file.onnx", reinitialize: false, augment: null);
        Assert.Equal((0, 0, 2916), (fromFile.Augment, fromFile.AugmentedSamples, fromFile.TrainingSamples));
        var off = Run("off.onnx", reinitialize: true, augment: 0);
        Assert.Equal((0, 2916), (off.Augment, off.TrainingSamples));
        var derived = StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = T("teacher.onnx"), StudentWidth = 0.5, StudentDepth = 0.5, OutputPath = Path.Combine(_dir, "derived.onnx"),
            TrainingData = T("train.tsv"), DataOptions = Text, ValidationFraction = 0.1, Epochs = 1, BatchSize = 64, Seed = 1, Threads = 1,
        });
        Assert.Equal((0, 2916), (derived.Augment, derived.TrainingSamples)); // from the teacher's weights

        // Token sequences grown by --synthetic are new rows already: no variants.
        var ids = new TeacherCase("synthetic-intent-transformer");
        var synthetic = StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = ids.Teacher, StudentPath = ids.StudentScratch, Reinitialize = true, OutputPath = Path.Combine(_dir, "synthetic.onnx"),
            TrainingData = ids.File("train_x.npy"), Synthetic = 200, ValidationFraction = 0, Epochs = 1, Seed = 1, Threads = 1,
        });
        Assert.Equal((0, 0), (synthetic.Augment, synthetic.AugmentedSamples));

        // The recipe path: Augment unset stays unset (the default by kind of student), 0 stays 0.
        Assert.Null(DistillStage.Options(new ModelBuild.Compression.Pipeline.Contract.CompressionRecipe { Distill = true }, "t.onnx", "o.onnx", 1).Augment);
        Assert.Equal(0, DistillStage.Options(new ModelBuild.Compression.Pipeline.Contract.CompressionRecipe { Distill = true, Augment = 0 }, "t.onnx", "o.onnx", 1).Augment);

        var wine = new TeacherCase("wine-mlp");
        var mlp = StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = wine.Teacher, StudentPath = wine.StudentScratch, Reinitialize = true, OutputPath = Path.Combine(_dir, "wine-default.onnx"),
            TrainingData = wine.File("train_x.npy"), ValidationFraction = 0.1, Epochs = 1, Threads = 1, Seed = 1,
        });
        Assert.Equal((0, 112), (mlp.Augment, mlp.TrainingSamples));
    }

    [Fact]
    public void Augment_on_float_features_trains_on_teacher_labelled_mixtures_of_the_training_rows()
    {
        var wine = new TeacherCase("wine-mlp");
        var result = StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = wine.Teacher, StudentPath = wine.StudentScratch, Reinitialize = true, OutputPath = Path.Combine(_dir, "wine.onnx"),
            TrainingData = wine.File("train_x.npy"), Augment = 2, ValidationFraction = 0.1, Epochs = 1, Threads = 1, Seed = 1,
        });
        Assert.Equal(2 * 112, result.AugmentedSamples); // 124 rows, 12 held out for validation and not mixed
        Assert.Equal(3 * 112, result.TrainingSamples);
        Assert.True(File.Exists(result.OutputPath));
    }

    [Fact]
    public void Mixtures_lie_between_training_rows_only_and_are_deterministic()
    {
        // Rows 0-5 are trained on; rows 6-7 (held out) are far away, so a variant that used them would leave the box.
        var values = new float[8 * 3];
        for (int r = 0; r < 8; r++)
            for (int f = 0; f < 3; f++) values[r * 3 + f] = r < 6 ? r + 10 * f : 1000;
        var inputs = TrainingInputs.Single("x", torch.tensor(values).reshape(8, 3));
        int[] rows = [0, 1, 2, 3, 4, 5];
        var variants = MixupAugmentation.Generate(inputs, rows, 5, seed: 7);
        Assert.Equal(30, variants.Rows);
        var v = variants.First.data<float>().ToArray();
        for (int i = 0; i < 30; i++)
            for (int f = 0; f < 3; f++)
                Assert.InRange(v[i * 3 + f], 0 + 10 * f - 1e-4f, 5 + 10 * f + 1e-4f);
        // Each row's features move together (one lambda and one partner per variant): feature f - feature 0 stays 10 f.
        for (int i = 0; i < 30; i++) Assert.Equal(20f, v[i * 3 + 2] - v[i * 3], 3);
        // Variant k*5+v comes from row k: between row k and another, so not every variant of row 0 is row 0 itself.
        Assert.Contains(Enumerable.Range(0, 5), i => v[i * 3] > 1e-3f);
        Assert.Equal(v, MixupAugmentation.Generate(inputs, rows, 5, seed: 7).First.data<float>().ToArray());
        Assert.NotEqual(v, MixupAugmentation.Generate(inputs, rows, 5, seed: 8).First.data<float>().ToArray());
    }

    [Fact]
    public void Augment_refuses_float_features_beside_token_ids()
    {
        // x (float) + Cast(ids) -> MatMul: a model with both kinds of input, which neither augmentation can vary.
        var model = new global::Onnx.ModelProto { IrVersion = 8, ProducerName = "ModelBuild.Tests" };
        model.OpsetImport.Add(new global::Onnx.OperatorSetIdProto { Domain = "", Version = 13 });
        var g = model.Graph = new global::Onnx.GraphProto { Name = "mixed" };
        g.Input.Add(Value("x", 4));
        g.Input.Add(Value("ids", 4, global::Onnx.TensorProto.Types.DataType.Int64));
        g.Initializer.Add(ModelBuild.Onnx.Tensors.TensorData.Create("w", Enumerable.Range(0, 12).Select(i => i / 12f - 0.5f).ToArray(), 4, 3));
        g.Node.Add(Node("Cast", ["ids"], "idsf", ("to", (long)global::Onnx.TensorProto.Types.DataType.Float)));
        g.Node.Add(Node("Add", ["x", "idsf"], "sum"));
        g.Node.Add(Node("MatMul", ["sum", "w"], "logits"));
        g.Output.Add(Value("logits", 3));
        var teacher = Path.Combine(_dir, "mixed.onnx");
        ModelBuild.Compression.Quantization.OnnxModelAccess.Save(model, teacher);
        var data = Path.Combine(_dir, "mixed.npz");
        NpzArchive.Write(data, new Dictionary<string, NpyArray>
        {
            ["x"] = NpyArray.Create(Enumerable.Range(0, 40).Select(i => (float)Math.Sin(i)).ToArray(), 10, 4),
            ["ids"] = NpyArray.Create(Enumerable.Range(0, 40).Select(i => (long)(i % 5)).ToArray(), 10, 4),
        });
        var e = Assert.Throws<ModelBuildException>(() => StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = teacher, StudentPath = teacher, OutputPath = Path.Combine(_dir, "never.onnx"),
            TrainingData = data, Augment = 2, Epochs = 1, Threads = 1,
        }));
        Assert.Equal("MB0371", e.Code);
        Assert.Contains("mixed.npz", e.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "never.onnx")));
    }
}
