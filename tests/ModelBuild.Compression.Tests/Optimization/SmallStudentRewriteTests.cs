using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Optimization;
using ModelBuild.Compression.Pruning;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;
using Onnx;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests.Optimization;

/// <summary>
/// The rewrites that take nodes or costly kernels out of a small pruned student: a one-head Attention's output
/// projection folded into its value projection (then quantized to QAttention with equal widths), and masked mean
/// pooling as one MatMul. Each on the shared synthetic student (pruned to one head where the fold needs it), with the
/// outputs checked here against the graph before the rewrite, in batches and a row at a time.
/// </summary>
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public class SmallStudentRewriteTests
{
    const double Tolerance = 1e-4;

    static string Synthetic(string file) => Path.Combine(Teacher("synthetic-intent-transformer"), file);

    static InputSet Read(string data, string model) => DataSource.ReadInputSet(data, new DataReadOptions().ForModel(model));

    /// <summary>The default (auto) fusions up to <paramref name="last"/>, with or without it.</summary>
    static List<IGraphFusion> Through(string last, bool including)
    {
        var all = FusionRegistry.Auto().ToList();
        var index = all.FindIndex(f => f.Name == last);
        Assert.True(index >= 0, last);
        return all.Take(including ? index + 1 : index).ToList();
    }

    static string Optimize(string model, IReadOnlyList<IGraphFusion> fusions, out OptimizationResult result)
    {
        var dir = TempDir();
        var output = Path.Combine(dir, "optimized.onnx");
        result = new GraphOptimizer(fusions).Optimize(model, Read(Synthetic("calib_x.npy"), model).Take(64), output, Path.Combine(dir, "work"));
        return result.Changed ? output : model;
    }

    /// <summary>
    /// <paramref name="model"/> optimized up to <paramref name="fusion"/> and through it, after checking that the
    /// fusion matched once and was kept; both files and their graphs.
    /// </summary>
    static (string Before, string After, OnnxGraph G0, OnnxGraph G1) KeptOnce(string model, string fusion)
    {
        var before = Optimize(model, Through(fusion, including: false), out _);
        var after = Optimize(model, Through(fusion, including: true), out var result);
        var outcome = result.Fusions.Single(f => f.Name == fusion);
        Assert.True(outcome.Kept, outcome.Note);
        Assert.Equal(1, outcome.Matches);
        return (before, after, OnnxModel.Load(before).Graph, OnnxModel.Load(after).Graph);
    }

    /// <summary>The synthetic student with half its heads and FFN neurons pruned: one head, as the sample's prune stage also leaves it.</summary>
    static string OneHeadStudent()
    {
        var pruned = StructuredPruner.Prune(OnnxModel.Load(Synthetic("student_kd.onnx")), new PruningOptions { Fraction = 0.5 }).Model;
        var path = Path.Combine(TempDir(), "one-head.onnx");
        pruned.Save(path);
        return path;
    }

    [Fact]
    public void A_one_head_attention_takes_its_output_projection_into_its_value_projection()
    {
        var student = OneHeadStudent();
        var (before, after, g0, g1) = KeptOnce(student, "AttentionOutputFold");
        var a0 = Assert.Single(g0.Nodes, n => n.OpType == "Attention");
        Assert.Equal(1, a0.GetInt("num_heads", 0));
        Assert.Equal("MatMul", Assert.Single(g0.GetConsumers(a0.Output[0])).OpType);
        // The MatMul and its bias Add are gone: the Attention feeds the residual Add directly, with v as wide as d.
        var a1 = Assert.Single(g1.Nodes, n => n.OpType == "Attention");
        Assert.Equal(g0.Nodes.Count - 2, g1.Nodes.Count);
        Assert.Equal("Add", Assert.Single(g1.GetConsumers(a1.Output[0])).OpType);
        var sizes = a1.GetInts("qkv_hidden_sizes")!;
        var width = g1.TryGetInitializer(a1.Input[1], out var w) ? w.Dims[0] : -1;
        Assert.Equal(width, sizes[2]);
        Assert.Equal(sizes.Sum(), w!.Dims[1]);

        var data = Read(Synthetic("test_x.npy"), student);
        Assert.True(OutputDifference.Max(before, after, data) <= Tolerance);
        Assert.True(OutputDifference.Max(before, after, data.Take(40), batch: 1) <= Tolerance);
    }

    [Fact]
    public void Several_heads_keep_their_output_projection()
    {
        // The unpruned student has two heads: its projection mixes them after their separate products.
        var model = Synthetic("student_kd.onnx");
        Optimize(model, Through("AttentionOutputFold", including: true), out var result);
        Assert.True(result.Fusions.Single(f => f.Name == "Attention").Kept);
        Assert.Equal(0, result.Fusions.Single(f => f.Name == "AttentionOutputFold").Matches);
    }

    [Theory]
    [InlineData("int8-dynamic")]
    [InlineData("int8-static")]
    public void A_folded_attention_quantizes_to_QAttention_with_equal_widths(string form)
    {
        // QAttention has no qkv_hidden_sizes (ONNX Runtime rejects the attribute): q and k get zero columns up to v's width.
        var student = OneHeadStudent();
        var folded = Optimize(student, Through("AttentionOutputFold", including: true), out _);
        var recipe = new CompressionRecipe
        {
            Teacher = folded, Output = Path.Combine(TempDir(), form + ".onnx"), Optimize = "none", Quantize = form, Force = true, TuneSession = "off",
            CalibrationData = Synthetic("calib_x.npy"), EvaluationData = Synthetic("test_x.npy"), EvaluationLabels = Synthetic("test_y.npy"),
        };
        TestMaterials.Run(recipe);

        var graph = OnnxModel.Load(recipe.Output).Graph;
        var q = Assert.Single(graph.Nodes, n => n.OpType == "QAttention");
        Assert.Null(q.GetInts("qkv_hidden_sizes"));
        Assert.True(q.HasAttribute("scale"));
        // Top-1 agreement with the float folded graph on the test split, measured here.
        var data = Read(Synthetic("test_x.npy"), student);
        using var floatRunner = new ModelRunner(folded);
        using var int8Runner = new ModelRunner(recipe.Output);
        var a = floatRunner.RunAll(data).ArgMax();
        var b = int8Runner.RunAll(data).ArgMax();
        var agreement = a.Zip(b).Count(p => p.First == p.Second) * 100.0 / a.Length;
        Assert.True(agreement >= 97, $"{form}: agreement {agreement:0.00}%");
    }

    [Theory]
    [InlineData("student_kd.onnx")]
    [InlineData("teacher.onnx")]
    public void Masked_mean_pooling_becomes_one_MatMul_with_the_same_outputs(string file)
    {
        var model = Synthetic(file);
        var (before, after, g0, g1) = KeptOnce(model, "MeanPoolingMatMul");
        // Before: a ReduceSum of a Mul (the masked sum); after: none, and a Flatten of a MatMul feeds the classifier.
        Assert.Contains(g0.Nodes, n => n.OpType == "ReduceSum" && g0.GetProducer(n.Input[0])?.OpType == "Mul");
        Assert.DoesNotContain(g1.Nodes, n => n.OpType == "ReduceSum" && g1.GetProducer(n.Input[0])?.OpType == "Mul");
        var flatten = Assert.Single(g1.Nodes, n => n.OpType == "Flatten");
        var matMul = g1.GetProducer(flatten.Input[0])!;
        Assert.Equal("MatMul", matMul.OpType);
        // The mask is Cast(Not(Equal(ids, pad))) and its count clamped at 1e-9: the weights are its L1 normalization.
        Assert.Equal("LpNormalization", g1.GetProducer(g1.GetProducer(matMul.Input[0])!.Input[0])!.OpType);
        Assert.DoesNotContain(g1.Nodes, n => n.OpType is "Clip" or "Div");
        // LpNormalization, Unsqueeze, MatMul, Flatten for Unsqueeze, Mul, ReduceSum, the count's ReduceSum and Clip, Div
        // (and the Constant nodes that held the Unsqueeze's axes, the count's axes and the clamp's minimum, if any).
        Assert.InRange(g1.Nodes.Count, g0.Nodes.Count - 5, g0.Nodes.Count - 2);

        var data = Read(Synthetic("test_x.npy"), model);
        Assert.True(OutputDifference.Max(before, after, data) <= Tolerance);
        Assert.True(OutputDifference.Max(before, after, data.Take(40), batch: 1) <= Tolerance);
        Assert.True(OutputDifference.Max(model, after, data) <= Tolerance);
    }

    [Fact]
    public void A_count_that_is_not_the_masks_own_row_sum_is_left_alone()
    {
        // Dividing by the sum over every position (a constant S) is not a mean over the kept tokens: m / count would
        // not be that division's weights, so the pooling stays as it is.
        var model = OnnxModel.Load(Synthetic("student_kd.onnx"));
        var g = model.Graph;
        var div = g.Nodes.Single(n => n.OpType == "Div" && g.GetProducer(n.Input[0])?.OpType == "ReduceSum" && g.GetProducer(g.GetProducer(n.Input[0])!.Input[0])?.OpType == "Mul");
        var s = model.GraphProto.Input.Single().Type.TensorType.Shape.Dim[1].DimValue;
        model.GraphProto.Initializer.Add(new TensorProto { Name = "constant_count", DataType = (int)TensorProto.Types.DataType.Float, FloatData = { (float)s } });
        div.Input[1] = "constant_count";
        g.Invalidate();
        var edited = Path.Combine(TempDir(), "constant-count.onnx");
        model.Save(edited);

        Optimize(edited, Through("MeanPoolingMatMul", including: true), out var result);
        Assert.Equal(0, result.Fusions.Single(f => f.Name == "MeanPoolingMatMul").Matches);
    }
}
