using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// A streaming-style model whose weights sit in If branches: no form may write a larger file, and the nodes whose
/// weights stay float are named (before: fp16 wrote 1.4x the input, the int8 forms wrote it unchanged without a word).
/// </summary>
public sealed class ControlFlowQuantizationTests
{
    [Theory]
    [InlineData("fp16")]
    [InlineData("int8-dynamic")]
    [InlineData("int8-static")]
    [InlineData("int4-weight")]
    [InlineData("auto")]
    public void Weights_in_If_branches_stay_float_said_so_and_the_file_never_grows(string form)
    {
        var dir = TestMaterials.TempDir();
        var teacher = Path.Combine(dir, "branchy.onnx");
        OnnxModelAccess.Save(BranchyModel(), teacher);
        var rows = Enumerable.Range(0, 32 * 16).Select(i => MathF.Sin(i * 0.13f)).ToArray();
        var recipe = new CompressionRecipe
        {
            Teacher = teacher,
            Output = Path.Combine(dir, $"out-{form}.onnx"),
            Quantize = form,
            CalibrationData = TestMaterials.SaveNpy(dir, "calib.npy", rows, 32, 16),
        };
        var report = TestMaterials.Run(recipe);
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0217") && w.Contains("If 'branch_on_energy'"));
        Assert.True(new FileInfo(recipe.Output).Length <= new FileInfo(teacher).Length,
            $"{form}: {new FileInfo(recipe.Output).Length} B written for a {new FileInfo(teacher).Length} B input");
        // fp16 converts what is outside the branches and adds Casts: larger than the input, so the float model is kept.
        if (form == "fp16") Assert.Contains(report.Warnings, w => w.StartsWith("MB0216"));
        var details = TestMaterials.QuantizeDetails(report);
        Assert.Contains("If 'branch_on_energy'", details["leftFloat"]!.AsArray().Select(n => n!.GetValue<string>()));
    }

    /// <summary>x [N,16] -> If(sum(x) > 0) { x @ W_then } else { x @ W_else } -> y [N,64]; the weights live in the branches.</summary>
    private static ModelProto BranchyModel()
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var g = model.Graph = new GraphProto { Name = "branchy" };
        g.Input.Add(Value("x", "N", 16));
        g.Output.Add(Value("y", "N", 64));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("zero", [0f]));
        g.Node.Add(OnnxModelAccess.Node("ReduceSum", "energy", ["x"], ["sum"]));
        g.Node[^1].Attribute.Add(NodeAttributes.Int("keepdims", 0));
        g.Node.Add(OnnxModelAccess.Node("Greater", "positive", ["sum", "zero"], ["cond"]));
        var @if = OnnxModelAccess.Node("If", "branch_on_energy", ["cond"], ["y"]);
        @if.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("then", 0.5f) });
        @if.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("else", -0.25f) });
        g.Node.Add(@if);
        return model;
    }

    private static GraphProto Branch(string name, float phase)
    {
        var branch = new GraphProto { Name = name };
        branch.Initializer.Add(OnnxModelAccess.FloatTensor($"w_{name}", Enumerable.Range(0, 16 * 64).Select(i => MathF.Cos(i * 0.07f + phase) * 0.2f).ToArray(), 16, 64));
        branch.Node.Add(OnnxModelAccess.Node("MatMul", $"matmul_{name}", ["x", $"w_{name}"], [$"y_{name}"]));
        branch.Output.Add(Value($"y_{name}", "N", 64));
        return branch;
    }

    private static ValueInfoProto Value(string name, string batch, long width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }
}
