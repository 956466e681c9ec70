using ModelBuild.Compression.Data;
using ModelBuild.Compression.Optimization;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;
using Onnx;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests.Optimization;

/// <summary>
/// The two rewrites of a padding mask's arithmetic, on small graphs made here from token ids: x != 0 as one Cast to
/// bool (NotEqualZeroAsCast), and mean pooling's m / clamp(sum(m)) as LpNormalization when m is 0/1 and the clamp
/// cannot change a count of 1 or more (MeanPoolingMatMul). The data has a row of padding only (count 0), where the
/// clamp is what keeps the division finite; outputs are compared here in ONNX Runtime, NaN counting as a difference.
/// </summary>
public class MaskRewriteTests
{
    const int Width = 8;
    const int Sequence = 6;

    /// <summary>Token ids for 3 rows: 4 tokens then padding, 2 tokens with padding between, and padding only.</summary>
    static readonly long[] Ids = [5, 9, 2, 7, 0, 0, /**/ 3, 0, 0, 4, 0, 0, /**/ 0, 0, 0, 0, 0, 0];

    [Theory]
    [InlineData("clip", 1e-9f, "LpNormalization")]
    [InlineData("clip", 1f, "LpNormalization")]
    [InlineData("max", 1e-6f, "LpNormalization")]
    [InlineData("clip", 2f, "Div")]   // a count of 1 becomes 2: not an L1 norm
    [InlineData("clip", 0f, "Div")]   // a row of padding is 0 / 0 (NaN) there, 0 in LpNormalization (its rows are left out here)
    [InlineData("none", 0f, "Div")]   // a row of padding is 0 / 0 (NaN) there, 0 in LpNormalization (its rows are left out here)
    [InlineData("float", 1e-9f, "Div")] // a float mask from the caller may hold 0.5: its sum is no count
    [InlineData("int-mask", 1e-9f, "Div")] // Cast of an int64 attention_mask: 0/1 by convention only, it may hold 2
    public void Mean_pooling_weights_become_an_L1_normalization_only_for_a_clamped_0_1_mask(string count, float minimum, string weights)
    {
        var model = PoolingModel(count, minimum);
        var dir = TempDir();
        var output = Path.Combine(dir, "out.onnx");
        var rows = count == "none" || minimum == 0 ? 2 : 3;
        var ids = Ids.Take(rows * Sequence).ToArray();
        var hidden = new DataTensor("h", [rows, Sequence, Width], Enumerable.Range(0, rows * Sequence * Width).Select(i => MathF.Sin(i * 0.37f + 0.1f)).ToArray(), null, "float32");
        var data = count == "float"
            ? InputSet.Of([("h", hidden), ("m", new DataTensor("m", [rows, Sequence], ids.Select(i => i == 0 ? 0f : 1f).ToArray(), null, "float32"))])
            : InputSet.Of([("h", hidden), ("x", new DataTensor("x", [rows, Sequence], null, count == "int-mask" ? ids.Select(i => i == 0 ? 0L : 1L).ToArray() : ids, "int64"))]);
        var result = new GraphOptimizer([new MeanPoolingMatMul()]).Optimize(model, data, output, Path.Combine(dir, "work"));
        var pooling = Assert.Single(result.Fusions);
        Assert.Equal(1, pooling.Matches);
        Assert.True(pooling.Kept, pooling.Note);
        var graph = OnnxModel.Load(output).Graph;
        var matMul = Assert.Single(graph.Nodes, n => n.OpType == "MatMul");
        var unsqueeze = graph.GetProducer(matMul.Input[0])!;
        Assert.Equal(weights, graph.GetProducer(unsqueeze.Input[0])!.OpType);
        if (weights == "LpNormalization") Assert.DoesNotContain(graph.Nodes, n => n.OpType is "ReduceSum" or "Clip" or "Max" or "Div");
        Assert.True(OutputDifference.Max(model, output, data) <= 1e-6);
        Assert.True(OutputDifference.Max(model, output, data, batch: 1) <= 1e-6);
    }

    [Fact]
    public void A_bound_of_rank_3_would_change_the_means_shape_and_is_not_matched()
    {
        // Max(count [B,1], [1,1,1]) is [1,B,1], and the mean [1,B,d]: the MatMul form would give [B,d].
        var model = PoolingModel("max", 1e-6f, boundDims: [1, 1, 1]);
        var data = InputSet.Of([("h", new DataTensor("h", [2, Sequence, Width], Enumerable.Range(0, 2 * Sequence * Width).Select(i => MathF.Cos(i * 0.3f)).ToArray(), null, "float32")),
            ("x", new DataTensor("x", [2, Sequence], null, Ids.Take(2 * Sequence).ToArray(), "int64"))]);
        var dir = TempDir();
        var result = new GraphOptimizer([new MeanPoolingMatMul()]).Optimize(model, data, Path.Combine(dir, "out.onnx"), Path.Combine(dir, "work"));
        Assert.Equal(0, Assert.Single(result.Fusions).Matches);
    }

    [Fact]
    public void The_verifier_refuses_the_same_values_in_another_shape()
    {
        // y = x [B,6] against y = Reshape(x, [1,-1]) [1,6B]: every value equal, the output not.
        string Graph(bool reshaped) => SmallGraph.Save(reshaped ? "reshaped" : "same", g =>
        {
            g.Input.Add(SmallGraph.Value("x", TensorProto.Types.DataType.Float, [-1, Sequence]));
            g.Output.Add(SmallGraph.Value("y", TensorProto.Types.DataType.Float, null));
            g.Initializer.Add(OnnxModelAccess.Int64Tensor("flat", [1L, -1L], 2));
            g.Node.Add(reshaped ? OnnxModelAccess.Node("Reshape", "reshape", ["x", "flat"], ["y"]) : OnnxModelAccess.Node("Identity", "same", ["x"], ["y"]));
        });
        var data = InputSet.Of(new DataTensor("x", [3, Sequence], Enumerable.Range(0, 3 * Sequence).Select(i => i * 0.5f).ToArray(), null, "float32"));
        var verifier = new FusionVerifier(Graph(false), data);
        Assert.Equal((0.0, (string?)null), verifier.Check(Graph(false)));
        var (difference, failure) = verifier.Check(Graph(true));
        Assert.Null(difference);
        Assert.Contains("shape [1,18] instead of [3,6]", failure);
    }

    [Theory]
    [InlineData(0L, 1)]
    [InlineData(1L, 0)] // x != 1 is no cast
    public void Not_equal_to_zero_becomes_one_Cast_to_bool(long compared, int expected)
    {
        var model = NotEqualModel(TensorProto.Types.DataType.Int64, OnnxModelAccess.Int64Tensor("zero", [compared]));
        var data = InputSet.Of(new DataTensor("x", [3, Sequence], null, Ids.Select((v, i) => i % 5 == 4 ? -v - 1 : v).ToArray(), "int64"));
        var (result, output) = Optimize(model, data);
        var rewrite = Assert.Single(result.Fusions);
        Assert.Equal(expected, rewrite.Matches);
        if (expected == 0) return;
        Assert.True(rewrite.Kept, rewrite.Note);
        var graph = OnnxModel.Load(output).Graph;
        Assert.DoesNotContain(graph.Nodes, n => n.OpType is "Equal" or "Not");
        Assert.Equal((long)TensorProto.Types.DataType.Bool, Assert.Single(graph.Nodes, n => n.OpType == "Cast" && n.Input[0] == "x").GetInt("to", 0));
        Assert.Equal(0.0, OutputDifference.Max(model, output, data));
    }

    [Fact]
    public void A_float_x_keeps_NaN_infinity_and_negative_zero_as_Not_Equal_does()
    {
        var model = NotEqualModel(TensorProto.Types.DataType.Float, OnnxModelAccess.FloatTensor("zero", [0f]));
        float[] values = [float.NaN, -0f, 0f, float.PositiveInfinity, float.NegativeInfinity, 1e-45f, -2.5f, 3f, 0f, float.NaN, -0f, 7f];
        var data = InputSet.Of(new DataTensor("x", [2, Sequence], values, null, "float32"));
        var output = Path.Combine(TempDir(), "cast.onnx");
        var model2 = OnnxModel.Load(model);
        Assert.Equal(1, new NotEqualZeroAsCast().Apply(model2));
        model2.Save(output);
        // Compared here rather than by the optimizer's verification, which takes finite data only.
        Assert.Equal(0.0, OutputDifference.Max(model, output, data));
        Assert.Equal(0.0, OutputDifference.Max(model, output, data, batch: 1));
    }

    [Fact]
    public void A_double_too_small_for_a_float_is_no_zero()
    {
        // As a float, 1e-300 is 0; as the double it is, x = 0 is not equal to it, so x != 1e-300 is true there while
        // Cast(0, bool) is false. The constant is checked in its own element type (found in review).
        var model = NotEqualModel(TensorProto.Types.DataType.Double, ModelBuild.Onnx.Tensors.TensorData.CreateScalar("zero", 1e-300));
        Assert.Equal(0, new NotEqualZeroAsCast().Apply(OnnxModel.Load(model)));
        var exactZero = NotEqualModel(TensorProto.Types.DataType.Double, ModelBuild.Onnx.Tensors.TensorData.CreateScalar("zero", -0.0));
        Assert.Equal(1, new NotEqualZeroAsCast().Apply(OnnxModel.Load(exactZero)));
    }

    [Fact]
    public void A_zero_held_by_a_Constant_node_is_matched()
    {
        var model = NotEqualModel(TensorProto.Types.DataType.Int64, null);
        var data = InputSet.Of(new DataTensor("x", [3, Sequence], null, Ids, "int64"));
        var (result, output) = Optimize(model, data);
        var rewrite = Assert.Single(result.Fusions);
        Assert.Equal(1, rewrite.Matches);
        Assert.True(rewrite.Kept, rewrite.Note);
        Assert.Equal(0.0, OutputDifference.Max(model, output, data));
    }

    [Fact]
    public void An_Equal_read_elsewhere_stays()
    {
        var model = NotEqualModel(TensorProto.Types.DataType.Int64, OnnxModelAccess.Int64Tensor("zero", [0L]), equalIsOutput: true);
        var data = InputSet.Of(new DataTensor("x", [3, Sequence], null, Ids, "int64"));
        var (result, _) = Optimize(model, data);
        Assert.Equal(0, Assert.Single(result.Fusions).Matches);
    }

    static (OptimizationResult Result, string Output) Optimize(string model, InputSet data)
    {
        var dir = TempDir();
        var output = Path.Combine(dir, "out.onnx");
        return (new GraphOptimizer([new NotEqualZeroAsCast()]).Optimize(model, data, output, Path.Combine(dir, "work")), output);
    }

    /// <summary>y = float(Not(Equal(x, zero))) (and the Equal as a second output when asked): what PyTorch writes for x != 0.</summary>
    /// <param name="zero">The compared constant as an initializer; null: an int64 0 from a Constant node.</param>
    static string NotEqualModel(TensorProto.Types.DataType type, TensorProto? zero, bool equalIsOutput = false) => SmallGraph.Save("not-equal", g =>
    {
        g.Input.Add(SmallGraph.Value("x", type, [-1, Sequence]));
        g.Output.Add(SmallGraph.Value("y", TensorProto.Types.DataType.Float, null));
        if (equalIsOutput) g.Output.Add(SmallGraph.Value("e", TensorProto.Types.DataType.Bool, null));
        if (zero is not null) g.Initializer.Add(zero);
        else
        {
            var constant = OnnxModelAccess.Node("Constant", "zero_constant", [], ["zero"]);
            constant.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = ModelBuild.Onnx.Tensors.TensorData.CreateScalar("zero", 0L) });
            g.Node.Add(constant);
        }
        g.Node.Add(OnnxModelAccess.Node("Equal", "equal", ["x", "zero"], ["e"]));
        g.Node.Add(OnnxModelAccess.Node("Not", "not", ["e"], ["keep"]));
        var cast = OnnxModelAccess.Node("Cast", "to_float", ["keep"], ["y"]);
        cast.Attribute.Add(NodeAttributes.Int("to", (long)TensorProto.Types.DataType.Float));
        g.Node.Add(cast);
    });

    /// <summary>
    /// sum(h * m) / count over the positions, m = float(x != 0) from ids (or a float input "m", or float(x) of an int64
    /// mask x for "int-mask"), the count
    /// clamp(sum(m)) by Clip or Max at <paramref name="minimum"/>, or unclamped ("none").
    /// </summary>
    static string PoolingModel(string count, float minimum, long[]? boundDims = null) => SmallGraph.Save("pool", g =>
    {
        g.Input.Add(SmallGraph.Value("h", TensorProto.Types.DataType.Float, [-1, Sequence, Width]));
        g.Output.Add(SmallGraph.Value("y", TensorProto.Types.DataType.Float, null));
        g.Initializer.Add(OnnxModelAccess.Int64Tensor("last", [-1], 1));
        g.Initializer.Add(OnnxModelAccess.Int64Tensor("positions", [1], 1));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("minimum", [minimum], boundDims ?? []));
        if (count == "float") g.Input.Add(SmallGraph.Value("m", TensorProto.Types.DataType.Float, [-1, Sequence]));
        else if (count == "int-mask")
        {
            g.Input.Add(SmallGraph.Value("x", TensorProto.Types.DataType.Int64, [-1, Sequence]));
            var cast = OnnxModelAccess.Node("Cast", "to_float", ["x"], ["m"]);
            cast.Attribute.Add(NodeAttributes.Int("to", (long)TensorProto.Types.DataType.Float));
            g.Node.Add(cast);
        }
        else
        {
            g.Input.Add(SmallGraph.Value("x", TensorProto.Types.DataType.Int64, [-1, Sequence]));
            g.Initializer.Add(OnnxModelAccess.Int64Tensor("zero", [0L]));
            g.Node.Add(OnnxModelAccess.Node("Equal", "equal", ["x", "zero"], ["pad"]));
            g.Node.Add(OnnxModelAccess.Node("Not", "not", ["pad"], ["keep"]));
            var cast = OnnxModelAccess.Node("Cast", "to_float", ["keep"], ["m"]);
            cast.Attribute.Add(NodeAttributes.Int("to", (long)TensorProto.Types.DataType.Float));
            g.Node.Add(cast);
        }
        g.Node.Add(OnnxModelAccess.Node("Unsqueeze", "unsqueeze", ["m", "last"], ["m3"]));
        g.Node.Add(OnnxModelAccess.Node("Mul", "mul", ["h", "m3"], ["hm"]));
        var sum = OnnxModelAccess.Node("ReduceSum", "sum", ["hm", "positions"], ["s"]);
        sum.Attribute.Add(NodeAttributes.Int("keepdims", 0));
        g.Node.Add(sum);
        var counted = OnnxModelAccess.Node("ReduceSum", "count", ["m", "positions"], ["c"]);
        counted.Attribute.Add(NodeAttributes.Int("keepdims", 1));
        g.Node.Add(counted);
        if (count != "none")
            g.Node.Add(count switch
            {
                "max" => OnnxModelAccess.Node("Max", "clamp", ["c", "minimum"], ["cc"]),
                _ => OnnxModelAccess.Node("Clip", "clamp", ["c", "minimum"], ["cc"]),
            });
        g.Node.Add(OnnxModelAccess.Node("Div", "mean", ["s", count == "none" ? "c" : "cc"], ["y"]));
    });
}
