using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;
using Onnx;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests.Distillation.Students;

/// <summary>
/// <c>--student-width/--student-depth/--student-ffn-width</c> on the Conv and transformer teachers of ../shared: parameter
/// counts by formula, shapes, and ONNX Runtime running every derived student with the teacher's inputs and outputs.
/// </summary>
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public sealed class StudentDerivationTests(ITestOutputHelper output)
{
    static readonly TeacherCase Intent = new("synthetic-intent-transformer");

    static string Model(string name) => SharedMaterials.Path_("models", name, "model.onnx");

    /// <summary>Float initializers with more than one element: what the importer trains and the reference counts.</summary>
    static long FloatParameters(ModelProto m) => m.Graph.Initializer
        .Where(i => i.DataType == (int)TensorProto.Types.DataType.Float && i.Dims.Aggregate(1L, (p, d) => p * d) > 1)
        .Sum(i => i.Dims.Aggregate(1L, (p, d) => p * d));

    static ModelProto Derive(string teacher, double width, double depth, double? ffn = null) =>
        StudentDeriver.Derive(OnnxModel.Load(teacher).Proto, width, depth, ffn, teacher);

    /// <summary>Runs teacher and student in ORT on the same batch-1 inputs; their outputs must have equal names and shapes.</summary>
    static void AssertRunsLikeTeacher(string teacherFile, ModelProto student)
    {
        var teacher = OnnxModel.Load(teacherFile).Proto;
        Assert.Equal(teacher.Graph.Input.Where(i => teacher.Graph.Initializer.All(t => t.Name != i.Name)).Select(i => i.ToString()),
                     student.Graph.Input.Where(i => student.Graph.Initializer.All(t => t.Name != i.Name)).Select(i => i.ToString()));
        Assert.Equal(teacher.Graph.Output.Select(o => o.ToString()), student.Graph.Output.Select(o => o.ToString()));
        var t = OutputShapes(teacher);
        var s = OutputShapes(student);
        Assert.Equal(t, s);
    }

    static List<string> OutputShapes(ModelProto model)
    {
        using var session = new InferenceSession(Google.Protobuf.MessageExtensions.ToByteArray(model));
        var inputs = session.InputMetadata.Select(kv =>
        {
            var shape = kv.Value.Dimensions.Select(d => d > 0 ? (long)d : 2L).ToArray();
            int n = (int)shape.Aggregate(1L, (p, d) => p * d);
            return kv.Value.ElementDataType switch
            {
                Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, n).ToArray(), shape),
                Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1, n).ToArray(), shape),
                _ => OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0, n).Select(i => (float)Math.Sin(i)).ToArray(), shape),
            };
        }).ToList();
        using var run = new RunOptions();
        using var outputs = session.Run(run, session.InputMetadata.Keys.ToArray(), inputs, session.OutputMetadata.Keys.ToArray());
        foreach (var v in inputs) v.Dispose();
        return outputs.Select(o =>
        {
            var span = o.GetTensorDataAsSpan<float>();
            foreach (var f in span) Assert.True(float.IsFinite(f));
            return string.Join(",", o.GetTensorTypeAndShape().Shape);
        }).ToList();
    }

    // Width 0.5 by formula: (out * in * k * k + out) per Conv with halved channels, the classifier reads c_last * H * W features.
    [Theory]
    [InlineData("mnist-8", 4 * 1 * 25 + 4 + 8 * 4 * 25 + 8 + 8 * 16 * 10 + 10)]                                   // 8,16 channels; [256,10] MatMul over 16 x 4 x 4
    [InlineData("mnist-cnn-pytorch", 5 * 25 + 5 + 10 * 5 * 25 + 10 + 25 * 10 * 16 + 25 + 10 * 25 + 10)]           // 10,20 channels; fc1 320 -> 50, fc2 50 -> 10
    [InlineData("cifar10-cnn-pytorch", 6 * 3 * 25 + 6 + 6 * 6 * 25 + 6 + 12 * 6 * 25 + 12 + 12 * 12 * 25 + 12 + 10 * 12 * 100 + 10)] // 12,12,24,24 channels; fc over 24 x 10 x 10
    public void Conv_teacher_at_half_width_has_half_the_channels_everywhere_and_runs_in_ORT(string name, long expected)
    {
        var student = Derive(Model(name), 0.5, 1.0);
        output.WriteLine($"{name}: {FloatParameters(OnnxModel.Load(Model(name)).Proto)} -> {FloatParameters(student)} parameters");
        Assert.Equal(expected, FloatParameters(student));
        AssertRunsLikeTeacher(Model(name), student);
    }

    [Theory]
    [InlineData("mnist-8")]
    [InlineData("cifar10-cnn-pytorch")]
    public void MB0330_depth_on_a_Conv_teacher_without_a_repeatable_block(string name)
    {
        // Every Conv of these teachers changes the shape (channels or, unpadded, the spatial size): no block can go.
        var e = Assert.Throws<ModelBuildException>(() => Derive(Model(name), 1.0, 0.5));
        Assert.Equal("MB0330", e.Code);
    }

    [Fact]
    public void Same_shape_Conv_blocks_form_a_run_and_depth_drops_them()
    {
        string file = Path.Combine(Path.GetTempPath(), $"mb-bncnn-{Guid.NewGuid():N}.onnx");
        try
        {
            new OnnxModel(BatchNormCnn.Build()).Save(file);
            var (student, derivation) = GraphStudentBuilder.Derive(OnnxModel.Load(file).Proto, 0.5, 0.5, 0.5, file);
            Assert.Equal(["same-shape Conv block: 2 -> 1 (keeps the teacher's layer 2 of 2)"], derivation.Depth);
            Assert.Equal(3, student.Graph.Node.Count(n => n.OpType == "Conv"));
            Assert.Equal(BatchNormCnn.TrainableParameters(4, 8, 1) + 2 * (4 + 8 + 8), FloatParameters(student)); // + BN running mean/var
            AssertRunsLikeTeacher(file, student);
        }
        finally { File.Delete(file); }
    }

    [Theory]
    [InlineData(0.5, 1.0, 2, 8, "layers 2, 3")]   // depth only: round(3 x 0.5) = 2 of 3 residual blocks, uniformly mapped
    [InlineData(0.34, 0.5, 1, 4, "layer 3")]      // one block, half the channels (the residual stream and the blocks' inner channels)
    public void Residual_blocks_form_a_run_and_shrink_in_depth_and_width(double depth, double width, int kept, int channels, string keptLayers)
    {
        string file = Path.Combine(Path.GetTempPath(), $"mb-rescnn-{Guid.NewGuid():N}.onnx");
        try
        {
            new OnnxModel(ResidualCnn.Build(3)).Save(file);
            var (student, derivation) = GraphStudentBuilder.Derive(OnnxModel.Load(file).Proto, width, depth, width, file);
            Assert.Equal([$"residual block: 3 -> {kept} (keeps the teacher's {keptLayers} of 3)"], derivation.Depth);
            Assert.Equal(1 + 2 * kept, student.Graph.Node.Count(n => n.OpType == "Conv"));
            Assert.Equal(ResidualCnn.Parameters(channels, kept), FloatParameters(student));
            AssertRunsLikeTeacher(file, student);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Transformer_layers_are_recognized_from_structure()
    {
        var layers = TransformerLayerFinder.Find(OnnxModel.Load(Intent.Teacher).Proto);
        Assert.NotNull(layers);
        Assert.Equal(2, layers!.Count);
        var bert = TransformerLayerFinder.Find(OnnxModel.Load(Model("bert-squad-keras2onnx-tiny")).Proto);
        Assert.NotNull(bert);
        Assert.Equal(24, bert!.Count);
        // An MLP and a CNN have no attention.
        Assert.Null(TransformerLayerFinder.Find(OnnxModel.Load(new TeacherCase("wine-mlp").Teacher).Proto));
        Assert.Null(TransformerLayerFinder.Find(OnnxModel.Load(Model("mnist-8")).Proto));
    }

    [Fact]
    public void Intent_transformer_student_matching_the_reference_architecture_has_its_parameter_count_and_shapes()
    {
        // Teacher: 2 layers, d_model 128, 4 heads, FFN 512. Reference student: 1 layer, d_model 64, 2 heads, FFN 128.
        var student = Derive(Intent.Teacher, width: 0.5, depth: 0.5, ffn: 0.25);
        long reference = Intent.StudentArchitecture.GetProperty("param_breakdown").GetProperty("total").GetInt64();
        Assert.Equal(76_556, reference);
        Assert.Equal(reference, FloatParameters(student));
        var scratch = OnnxModel.Load(Intent.StudentScratch).Proto;
        static IEnumerable<string> Shapes(ModelProto m) => m.Graph.Initializer
            .Where(i => i.DataType == (int)TensorProto.Types.DataType.Float && i.Dims.Aggregate(1L, (p, d) => p * d) > 1)
            .Select(i => string.Join("x", i.Dims)).Order(StringComparer.Ordinal);
        Assert.Equal(Shapes(scratch), Shapes(student));
        AssertRunsLikeTeacher(Intent.Teacher, student);
    }

    [Fact]
    public void Intent_transformer_width_scales_d_model_heads_and_FFN_together()
    {
        const long vocab = 627, positions = 32, classes = 12;
        static long Formula(long layers, long d, long ffn) =>
            vocab * d + positions * d + layers * (4 * (d * d + d) + 4 * d + d * ffn + ffn + ffn * d + d) + 2 * d + d * classes + classes;
        Assert.Equal(Formula(2, 128, 512), FloatParameters(OnnxModel.Load(Intent.Teacher).Proto));
        var half = Derive(Intent.Teacher, 0.5, 1.0);
        Assert.Equal(Formula(2, 64, 256), FloatParameters(half));
        // 3 of 4 heads: head_dim stays 32, so the attention width is 96 and d_model follows it.
        var threeQuarters = Derive(Intent.Teacher, 0.75, 0.5);
        Assert.Equal(Formula(1, 96, 384), FloatParameters(threeQuarters));
        Assert.Contains(threeQuarters.Graph.Initializer, i => i.DataType == (int)TensorProto.Types.DataType.Int64
            && i.Dims.Count == 1 && i.Dims[0] == 4 && ModelBuild.Onnx.Tensors.TensorData.ToInt64Array(i).SequenceEqual(new long[] { -1, 32, 3, 32 }));
        AssertRunsLikeTeacher(Intent.Teacher, half);
        AssertRunsLikeTeacher(Intent.Teacher, threeQuarters);
    }

    [Fact]
    public void BERT_depth_keeps_a_quarter_of_its_24_post_norm_layers_and_runs_in_ORT()
    {
        var file = Model("bert-squad-keras2onnx-tiny");
        var teacher = OnnxModel.Load(file).Proto;
        var student = Derive(file, 1.0, 0.25);
        // hidden 8, FFN 32: Q, K, V, O (8x8 + 8 each), two LayerNorms (2 x 8 each), FFN 8x32 + 32 and 32x8 + 8.
        const long perLayer = 4 * (8 * 8 + 8) + 2 * 2 * 8 + 8 * 32 + 32 + 32 * 8 + 8;
        Assert.Equal(FloatParameters(teacher) - 18 * perLayer, FloatParameters(student));
        Assert.Equal(6, student.Graph.Node.Count(n => n.OpType == "Softmax"));
        AssertRunsLikeTeacher(file, student);
    }

    [Fact]
    public void MB0331_width_has_nothing_to_shrink_when_the_only_channels_are_the_model_output()
    {
        var e = Assert.Throws<ModelBuildException>(() => StudentDeriver.Derive(ModelBuild.Compression.Tests.Pruning.TensordotGraphs.ConvToOutput(), 0.5, 1.0, null, "conv.onnx"));
        Assert.Equal("MB0331", e.Code);
    }

    [Fact]
    public void MB0332_a_teacher_ONNX_Runtime_cannot_run()
    {
        var model = BatchNormCnn.Build();
        // The classifier's weight reads 100 features where the graph gives it 784: ORT rejects the Gemm when it runs.
        var fc = model.Graph.Initializer.First(i => i.Name == "fc.weight");
        fc.Dims[1] = 100;
        fc.RawData = Google.Protobuf.ByteString.CopyFrom(new byte[10 * 100 * 4]);
        var e = Assert.Throws<ModelBuildException>(() => StudentDeriver.Derive(model, 0.5, 1.0, null, "bad.onnx"));
        Assert.Equal("MB0332", e.Code);
        Assert.Contains("Gemm", e.Message);
    }

    [Fact]
    public void Width_and_depth_outside_0_1_are_rejected()
    {
        var e = Assert.Throws<ModelBuildException>(() => Derive(Intent.Teacher, 0.5, 1.0, ffn: 1.5));
        Assert.Equal("MB0308", e.Code);
    }
}
