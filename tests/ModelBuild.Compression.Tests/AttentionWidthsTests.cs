using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx.Graph;
using Onnx;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// The equal widths QAttention needs (<see cref="AttentionWidths"/>), checked in float before any quantization: an
/// Attention with q/k heads narrower than its v heads, and the same Attention with q and k zero-padded head by head and
/// the scale written out, give the same outputs in ONNX Runtime, with one head and with several, with the default
/// scale and with one set.
/// </summary>
public class AttentionWidthsTests
{
    const int Width = 16;
    const int Sequence = 5;

    [Theory]
    [InlineData(1, 8, 16, null)]
    [InlineData(2, 8, 16, null)]
    [InlineData(4, 8, 16, null)]
    [InlineData(2, 4, 8, 0.3f)]
    public void Padding_q_and_k_head_by_head_leaves_the_attention_as_it_was(int heads, int qk, int v, float? scale)
    {
        long[] sizes = [qk, qk, v];
        Assert.True(AttentionWidths.CanEqualize(sizes, heads));
        var total = 2 * qk + v;
        var weight = Enumerable.Range(0, Width * total).Select(i => MathF.Sin(i * 0.37f) * 0.4f).ToArray();
        var bias = Enumerable.Range(0, total).Select(i => MathF.Cos(i * 0.91f) * 0.2f).ToArray();
        var original = Save(heads, weight, bias, sizes, scale);

        var (w, b) = AttentionWidths.Equalize(weight, bias, Width, sizes, heads);
        Assert.Equal(Width * 3 * v, w.Length);
        var equal = Save(heads, w, b, null, scale ?? AttentionWidths.DefaultScale(qk, heads));

        var x = Enumerable.Range(0, 3 * Sequence * Width).Select(i => MathF.Sin(i * 0.23f)).ToArray();
        var data = InputSet.Of(new DataTensor("x", [3, Sequence, Width], x, null, "float32"));
        using var a = new ModelRunner(original);
        using var e = new ModelRunner(equal);
        var oa = a.RunAll(data).Values[0];
        var oe = e.RunAll(data).Values[0];
        Assert.Equal(oa.Length, oe.Length);
        var max = oa.Zip(oe).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(max <= 1e-5, $"outputs moved by {max}");
        // Outputs that are not all near 0, so that the comparison means something.
        Assert.Contains(oa, o => MathF.Abs(o) > 1e-2f);
    }

    [Theory]
    [InlineData(1, 16, 8)] // v narrower than q: padding q cannot make the widths equal
    [InlineData(2, 8, 6)]  // v does not split into the heads' q widths
    [InlineData(3, 8, 12)] // q does not split into 3 heads
    public void Widths_that_cannot_be_made_equal_are_refused(int heads, int qk, int v)
    {
        Assert.False(AttentionWidths.CanEqualize([qk, qk, v], heads));
        Assert.Throws<ArgumentException>(() => AttentionWidths.Equalize(new float[Width * (2 * qk + v)], new float[2 * qk + v], Width, [qk, qk, v], heads));
    }

    /// <summary>x [B,S,16] -> com.microsoft.Attention (no mask) -> y; qkv_hidden_sizes when given, scale when given.</summary>
    static string Save(int heads, float[] weight, float[] bias, long[]? sizes, float? scale)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        var g = model.Graph = new GraphProto { Name = "attention" };
        g.Input.Add(Tensor("x", Width));
        g.Output.Add(Tensor("y", null));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("qkv_weight", weight, Width, weight.Length / Width));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("qkv_bias", bias, bias.Length));
        var attention = OnnxModelAccess.Node("Attention", "attention", ["x", "qkv_weight", "qkv_bias"], ["y"], "com.microsoft");
        attention.Attribute.Add(NodeAttributes.Int("num_heads", heads));
        if (sizes is not null) attention.Attribute.Add(NodeAttributes.Ints("qkv_hidden_sizes", sizes));
        if (scale is { } s) attention.Attribute.Add(NodeAttributes.Float("scale", s));
        g.Node.Add(attention);
        var path = Path.Combine(TempDir(), "attention.onnx");
        OnnxModelAccess.Save(model, path);
        return path;
    }

    static ValueInfoProto Tensor(string name, long? width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "B" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = Sequence });
        shape.Dim.Add(width is { } w ? new TensorShapeProto.Types.Dimension { DimValue = w } : new TensorShapeProto.Types.Dimension { DimParam = "H" });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }
}
