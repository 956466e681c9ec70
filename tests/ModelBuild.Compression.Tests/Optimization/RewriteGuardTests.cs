using ModelBuild.Compression.Data;
using ModelBuild.Compression.Optimization;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx.Graph;
using Onnx;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests.Optimization;

/// <summary>
/// Where AttentionOutputFold and MeanPoolingMatMul must stay away, on small graphs made here: an output projection
/// narrower than the query (folding it would leave widths QAttention cannot take), and a "pooling" whose hidden value
/// is broadcast along the positions (a MatMul could not multiply it); next to each, the same graph with the shape
/// that does match, so a guard that refused everything would fail too.
/// </summary>
public class RewriteGuardTests
{
    const int Width = 16;
    const int Sequence = 6;

    [Theory]
    [InlineData(8, 0)]  // d_out 8 < q 12: left alone
    [InlineData(12, 1)] // d_out = q: folded
    public void An_output_projection_narrower_than_the_query_is_not_folded(int outWidth, int expected)
    {
        const int qkv = 12;
        var model = SmallGraph.Save("fold", g =>
        {
            g.Input.Add(Value("x", TensorProto.Types.DataType.Float, Width));
            g.Output.Add(Value("y", TensorProto.Types.DataType.Float, null));
            g.Initializer.Add(OnnxModelAccess.FloatTensor("qkv_weight", Wave(Width * 3 * qkv, 0.37f, 0.4f), Width, 3 * qkv));
            g.Initializer.Add(OnnxModelAccess.FloatTensor("qkv_bias", Wave(3 * qkv, 0.91f, 0.2f), 3 * qkv));
            g.Initializer.Add(OnnxModelAccess.FloatTensor("w_o", Wave(qkv * outWidth, 0.53f, 0.3f), qkv, outWidth));
            g.Initializer.Add(OnnxModelAccess.FloatTensor("b_o", Wave(outWidth, 0.17f, 0.1f), outWidth));
            var attention = OnnxModelAccess.Node("Attention", "attention", ["x", "qkv_weight", "qkv_bias"], ["a"], "com.microsoft");
            attention.Attribute.Add(NodeAttributes.Int("num_heads", 1));
            g.Node.Add(attention);
            g.Node.Add(OnnxModelAccess.Node("MatMul", "o", ["a", "w_o"], ["p"]));
            g.Node.Add(OnnxModelAccess.Node("Add", "o_bias", ["p", "b_o"], ["y"]));
        });
        var data = InputSet.Of(new DataTensor("x", [2, Sequence, Width], Wave(2 * Sequence * Width, 0.23f, 1f), null, "float32"));
        var result = Optimize(model, new AttentionOutputFold(), data);
        var fold = Assert.Single(result.Fusions);
        Assert.Equal(expected, fold.Matches);
        if (expected > 0) Assert.True(fold.Kept, fold.Note);
    }

    [Theory]
    [InlineData(1, 0)]        // h [B,1,d]: broadcast along the positions, left alone
    [InlineData(Sequence, 1)] // h [B,S,d]: a pooling
    public void A_hidden_value_broadcast_along_the_positions_is_not_pooled_by_MatMul(int hiddenPositions, int expected)
    {
        var model = SmallGraph.Save("pool", g =>
        {
            g.Input.Add(Value("h", TensorProto.Types.DataType.Float, Width, hiddenPositions));
            g.Input.Add(Value("m", TensorProto.Types.DataType.Float, null));
            g.Output.Add(Value("y", TensorProto.Types.DataType.Float, null));
            g.Initializer.Add(OnnxModelAccess.Int64Tensor("last", [-1], 1));
            g.Initializer.Add(OnnxModelAccess.Int64Tensor("positions", [1], 1));
            g.Initializer.Add(OnnxModelAccess.FloatTensor("one", [1f]));
            g.Node.Add(OnnxModelAccess.Node("Unsqueeze", "unsqueeze", ["m", "last"], ["m3"]));
            g.Node.Add(OnnxModelAccess.Node("Mul", "mul", ["h", "m3"], ["hm"]));
            var sum = OnnxModelAccess.Node("ReduceSum", "sum", ["hm", "positions"], ["s"]);
            sum.Attribute.Add(NodeAttributes.Int("keepdims", 0));
            g.Node.Add(sum);
            var count = OnnxModelAccess.Node("ReduceSum", "count", ["m", "positions"], ["c"]);
            count.Attribute.Add(NodeAttributes.Int("keepdims", 1));
            g.Node.Add(count);
            g.Node.Add(OnnxModelAccess.Node("Max", "at_least_one", ["c", "one"], ["cc"]));
            g.Node.Add(OnnxModelAccess.Node("Div", "mean", ["s", "cc"], ["y"]));
        });
        var mask = Enumerable.Range(0, 2 * Sequence).Select(i => i % Sequence < 4 - i / Sequence ? 1f : 0f).ToArray();
        var data = InputSet.Of([
            ("h", new DataTensor("h", [2, hiddenPositions, Width], Wave(2 * hiddenPositions * Width, 0.29f, 1f), null, "float32")),
            ("m", new DataTensor("m", [2, Sequence], mask, null, "float32")),
        ]);
        var result = Optimize(model, new MeanPoolingMatMul(), data);
        var pooling = Assert.Single(result.Fusions);
        Assert.Equal(expected, pooling.Matches);
        if (expected > 0) Assert.True(pooling.Kept, pooling.Note);
    }

    static OptimizationResult Optimize(string model, IGraphFusion fusion, InputSet data)
    {
        var dir = TempDir();
        return new GraphOptimizer([fusion]).Optimize(model, data, Path.Combine(dir, "out.onnx"), Path.Combine(dir, "work"));
    }

    static float[] Wave(int count, float step, float amplitude) => Enumerable.Range(0, count).Select(i => MathF.Sin(i * step + 0.1f) * amplitude).ToArray();

    /// <summary>[B, positions, width] when a width is given, else [B, S] (the mask) or fully dynamic (an output).</summary>
    static ValueInfoProto Value(string name, TensorProto.Types.DataType type, long? width, long positions = Sequence) =>
        SmallGraph.Value(name, type, name == "y" ? null : width is { } w ? [-1, positions, w] : name == "m" ? [-1, Sequence] : [-1]);
}
