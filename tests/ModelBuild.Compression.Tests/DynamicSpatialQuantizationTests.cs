using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// A fully convolutional vision model with symbolic height and width ([N,3,H,W], as converter exports of detectors
/// have): it calibrates and is timed at the size of the data given, says which size it timed, and the MatMul-only
/// forms keep the float model with a warning (before: MB0599 "At least one output should be requested").
/// </summary>
public sealed class DynamicSpatialQuantizationTests
{
    [Fact]
    public void Static_int8_calibrates_and_times_at_the_data_size()
    {
        var dir = TestMaterials.TempDir();
        var teacher = Save(dir);
        var recipe = new CompressionRecipe
        {
            Teacher = teacher,
            Output = Path.Combine(dir, "static.onnx"),
            Quantize = "int8-static",
            CalibrationData = TestMaterials.SaveNpy(dir, "calib.npy", Pixels(4 * 3 * 40 * 56), 4, 3, 40, 56),
            Force = true,
        };
        var report = TestMaterials.Run(recipe, latencyRuns: 2);
        var details = TestMaterials.QuantizeDetails(report);
        Assert.Equal("int8-static", details["chosen"]!.GetValue<string>());
        Assert.Equal("[1,3,40,56]", details["latencyInputShape"]!.GetValue<string>());
        Assert.Contains(OnnxModelAccess.Load(recipe.Output).Graph.Node, n => n.OpType == "QuantizeLinear");
    }

    [Fact]
    public void Without_data_the_synthetic_timing_size_is_reported()
    {
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe { Teacher = Save(dir), Output = Path.Combine(dir, "auto.onnx"), Quantize = "auto" };
        var details = TestMaterials.QuantizeDetails(TestMaterials.Run(recipe, latencyRuns: 2));
        Assert.Equal("[1,3,224,224] (synthetic)", details["latencyInputShape"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("int8-dynamic")]
    [InlineData("int4-weight")]
    public void MatMul_forms_on_a_convolution_only_model_warn_MB0215_and_keep_the_float_model(string form)
    {
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe { Teacher = Save(dir), Output = Path.Combine(dir, form + ".onnx"), Quantize = form };
        var report = TestMaterials.Run(recipe, latencyRuns: 2);
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0215"));
        Assert.Equal(File.ReadAllBytes(recipe.Teacher), File.ReadAllBytes(recipe.Output));
    }

    private static float[] Pixels(int count) => Enumerable.Range(0, count).Select(i => (MathF.Sin(i * 0.011f) + 1) / 2).ToArray();

    /// <summary>x [N,3,H,W] -> Conv 3x3 (8) -> Relu -> Conv 3x3 (4) -> y [N,4,H,W] (padding keeps the size).</summary>
    private static string Save(string dir)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var g = model.Graph = new GraphProto { Name = "fcn" };
        g.Input.Add(Image("x", 3));
        g.Output.Add(Image("y", 4));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("w1", Enumerable.Range(0, 8 * 3 * 9).Select(i => MathF.Cos(i * 0.3f) * 0.3f).ToArray(), 8, 3, 3, 3));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("w2", Enumerable.Range(0, 4 * 8 * 9).Select(i => MathF.Sin(i * 0.7f) * 0.2f).ToArray(), 4, 8, 3, 3));
        foreach (var (name, inputs, output) in new[] { ("conv1", new[] { "x", "w1" }, "h"), ("conv2", new[] { "r", "w2" }, "y") })
        {
            var conv = OnnxModelAccess.Node("Conv", name, inputs, [output]);
            conv.Attribute.Add(NodeAttributes.Ints("pads", 1, 1, 1, 1));
            g.Node.Add(conv);
            if (name == "conv1") g.Node.Add(OnnxModelAccess.Node("Relu", "relu", ["h"], ["r"]));
        }
        var path = Path.Combine(dir, "fcn.onnx");
        OnnxModelAccess.Save(model, path);
        return path;
    }

    private static ValueInfoProto Image(string name, long channels)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = channels });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "H" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "W" });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }
}
