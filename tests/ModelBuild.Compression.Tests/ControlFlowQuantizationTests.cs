using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// Streaming/speech-style models: weights inside If branches and Loop bodies, LSTM and GRU cells. Each quantized
/// model runs in ONNX Runtime against the float one, has the quantized operators where the weights were, and is
/// smaller; what stays float is named (before: fp16 wrote a larger file, the int8 forms wrote these models unchanged).
/// </summary>
public sealed class ControlFlowQuantizationTests
{
    /// <summary>
    /// Output SQNR floors. int8 (7 bits of magnitude per weight column, 8 per dynamic activation) leaves about 40 dB
    /// per product; a sum of 16-32 such products and a few chained layers lose a few dB: 30 dB. int4 (3 bits of
    /// magnitude per 32-block) about 18 dB per product: 12 dB. fp16 (11-bit mantissa) about 60 dB for one rounding,
    /// but inputs, weights and every intermediate are rounded, through up to three chained layers: 40 dB.
    /// </summary>
    static double Floor(string form) => form switch { "int4-weight" => 12, "fp16" => 40, _ => 30 };

    /// <summary>A float32 initializer as large as a weight (the branch and body weights have 1024-4096 elements; scales at most 256).</summary>
    static bool FloatWeight(TensorProto t) => t.DataType == (int)TensorProto.Types.DataType.Float && OnnxModelAccess.ElementCount(t) > 256;

    [Theory]
    [InlineData("int8-dynamic")]
    [InlineData("int8-weights")]
    [InlineData("fp16")]
    public void A_weight_only_a_nested_body_reads_survives(string form)
    {
        // The enclosing graph's weight is read only by a Loop body inside an If branch (two levels down): whatever a form
        // moves or drops, the written model must still define it where that body can see it.
        var (teacher, output, _) = Compress(NestedModel(), "nested", form);
        foreach (var sign in new[] { 1f, -1f })
            AssertClose(teacher, output, "x", Rows(8, 32, sign), [8, 32], Floor(form), $"{form}, sign {sign}");
    }

    /// <summary>x [N,32] -> If(sum(x) > 0) { Loop 2 times { h = tanh(h @ W_deep) } } else { -x } -> y; W_deep is in the main graph.</summary>
    static ModelProto NestedModel()
    {
        var f = (int)TensorProto.Types.DataType.Float;
        var (model, g) = NewModel("nested", Value("x", f, "N", 32), Value("y", f, "N", 32));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("zero", [0f]));
        g.Initializer.Add(OnnxModelAccess.Int64Tensor("trips", [2]));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("w_deep", Weights(32 * 32, 0.2f, 0.3f).Select((w, i) => i % 33 == 0 ? w + 1 : w).ToArray(), 32, 32));
        g.Node.Add(OnnxModelAccess.Node("ReduceSum", "energy", ["x"], ["sum"]));
        g.Node[^1].Attribute.Add(NodeAttributes.Int("keepdims", 0));
        g.Node.Add(OnnxModelAccess.Node("Greater", "positive", ["sum", "zero"], ["cond"]));
        var body = new GraphProto { Name = "step" };
        body.Input.Add(Value("i", (int)TensorProto.Types.DataType.Int64));
        body.Input.Add(Value("keep_going", (int)TensorProto.Types.DataType.Bool));
        body.Input.Add(Value("h", f, "N", 32));
        body.Node.Add(OnnxModelAccess.Node("Identity", "carry_condition", ["keep_going"], ["keep_going_out"]));
        body.Node.Add(OnnxModelAccess.Node("MatMul", "matmul_deep", ["h", "w_deep"], ["hw"]));
        body.Node.Add(OnnxModelAccess.Node("Tanh", "squash", ["hw"], ["h_out"]));
        body.Output.Add(Value("keep_going_out", (int)TensorProto.Types.DataType.Bool));
        body.Output.Add(Value("h_out", f, "N", 32));
        var then = new GraphProto { Name = "then" };
        var loop = OnnxModelAccess.Node("Loop", "repeat", ["trips", "", "x"], ["y_then"]);
        loop.Attribute.Add(new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = body });
        then.Node.Add(loop);
        then.Output.Add(Value("y_then", f, "N", 32));
        var @else = new GraphProto { Name = "else" };
        @else.Node.Add(OnnxModelAccess.Node("Neg", "flip", ["x"], ["y_else"]));
        @else.Output.Add(Value("y_else", f, "N", 32));
        var @if = OnnxModelAccess.Node("If", "branch_on_energy", ["cond"], ["y"]);
        @if.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = then });
        @if.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = @else });
        g.Node.Add(@if);
        return model;
    }

    [Fact]
    public void Fp16_keeps_the_scales_of_a_Resize_inside_a_branch_float()
    {
        // ONNX requires Resize's scales in float32; converting a branch's Constant scales to float16 makes the model invalid.
        var (teacher, output, _) = Compress(ResizeBranchModel(), "resize-branch", "fp16");
        var branches = OnnxModelAccess.Load(output).Graph.Node.Single(n => n.OpType == "If").Attribute.Select(a => a.G).ToList();
        foreach (var branch in branches)
            Assert.Equal((int)TensorProto.Types.DataType.Float, branch.Initializer.Single(t => t.Name.StartsWith("scales_")).DataType);
        AssertSmaller(teacher, output, "fp16");
        foreach (var sign in new[] { 1f, -1f })
            AssertClose(teacher, output, "x", Rows(4, 4, sign), [1, 1, 4, 4], Floor("fp16"), $"fp16, sign {sign}");
    }

    /// <summary>x [1,1,4,4] -> If(sum(x) > 0) { Resize(x, x2 nearest) @ W_then } else { ... @ W_else } -> y [1,1,8,256] (weights large enough that fp16 pays for its Casts).</summary>
    static ModelProto ResizeBranchModel()
    {
        var (model, g) = NewModel("resize-branch", Value("x", (int)TensorProto.Types.DataType.Float, 1, 1, 4, 4), Value("y", (int)TensorProto.Types.DataType.Float, 1, 1, 8, 256));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("zero", [0f]));
        g.Node.Add(OnnxModelAccess.Node("ReduceSum", "energy", ["x"], ["sum"]));
        g.Node[^1].Attribute.Add(NodeAttributes.Int("keepdims", 0));
        g.Node.Add(OnnxModelAccess.Node("Greater", "positive", ["sum", "zero"], ["cond"]));
        var @if = OnnxModelAccess.Node("If", "branch_on_energy", ["cond"], ["y"]);
        foreach (var (name, phase) in new[] { ("then", 0.5f), ("else", -0.25f) })
        {
            var branch = new GraphProto { Name = name };
            branch.Initializer.Add(OnnxModelAccess.FloatTensor($"scales_{name}", [1f, 1f, 2f, 2f], 4));
            branch.Initializer.Add(OnnxModelAccess.FloatTensor($"w_{name}", Weights(8 * 256, phase, 1f), 8, 256));
            branch.Node.Add(OnnxModelAccess.Node("Resize", $"resize_{name}", ["x", "", $"scales_{name}"], [$"r_{name}"]));
            branch.Node.Add(OnnxModelAccess.Node("MatMul", $"matmul_{name}", [$"r_{name}", $"w_{name}"], [$"y_{name}"]));
            branch.Output.Add(Value($"y_{name}", (int)TensorProto.Types.DataType.Float, 1, 1, 8, 256));
            @if.Attribute.Add(new AttributeProto { Name = name + "_branch", Type = AttributeProto.Types.AttributeType.Graph, G = branch });
        }
        g.Node.Add(@if);
        return model;
    }

    [Fact]
    public void Integer_kernels_inside_branches_are_not_taken_for_the_float_graph()
    {
        // The latency gate waives a slower measurement only for a graph ONNX Runtime runs with float's own operators
        // (FloatKernelMatch); MatMulInteger inside If branches is not that, though the main graph's operators are.
        var (teacher, output, _) = Compress(BranchyModel(), "branchy-kernels", "int8-dynamic");
        Assert.Equal(OnnxModelAccess.Load(teacher).Graph.Node.Select(n => n.OpType).Order(), OnnxModelAccess.Load(output).Graph.Node.Select(n => n.OpType).Order());
        Assert.False(FloatKernelMatch.SameOperators(teacher, output));
    }

    [Theory]
    [InlineData("int8-dynamic", "MatMulInteger")]
    [InlineData("int8-weights", "Cast")]
    [InlineData("int4-weight", "MatMulNBits")]
    [InlineData("fp16", "MatMul")]
    public void MatMuls_in_If_branches_quantize_like_any_other(string form, string branchOp)
    {
        var (teacher, output, report) = Compress(BranchyModel(), "branchy", form);
        var branches = OnnxModelAccess.Load(output).Graph.Node.Single(n => n.OpType == "If").Attribute.Select(a => a.G).ToList();
        Assert.Equal(2, branches.Count);
        foreach (var branch in branches)
        {
            Assert.Contains(branch.Node, n => n.OpType == branchOp);
            // No float32 weight is left in a branch: int8/uint8 (int4 packed) or float16.
            Assert.DoesNotContain(branch.Initializer, FloatWeight);
        }
        AssertSmaller(teacher, output, form);
        Assert.Null(TestMaterials.QuantizeDetails(report)["leftFloat"]);
        // Both branches run: the sign of sum(x) picks one.
        foreach (var sign in new[] { 1f, -1f })
            AssertClose(teacher, output, "x", Rows(8, 16, sign), [8, 16], Floor(form), $"{form}, sign {sign}");
    }

    [Theory]
    [InlineData("int8-dynamic", "MatMulInteger")]
    [InlineData("int8-weights", "Cast")]
    [InlineData("fp16", "MatMul")]
    public void A_weight_both_branches_read_from_the_enclosing_graph_is_quantized_too(string form, string branchOp)
    {
        var (teacher, output, _) = Compress(BranchyModel(sharedWeight: true), "shared", form);
        var graph = OnnxModelAccess.Load(output).Graph;
        Assert.DoesNotContain(graph.Initializer, FloatWeight);
        foreach (var branch in graph.Node.Single(n => n.OpType == "If").Attribute.Select(a => a.G))
        {
            Assert.Contains(branch.Node, n => n.OpType == branchOp);
            Assert.DoesNotContain(branch.Initializer, FloatWeight);
        }
        AssertSmaller(teacher, output, form);
        foreach (var sign in new[] { 1f, -1f })
            AssertClose(teacher, output, "x", Rows(8, 16, sign), [8, 16], Floor(form), $"{form}, sign {sign}");
    }

    [Fact]
    public void Static_int8_keeps_branch_weights_float_and_says_which()
    {
        var (teacher, output, report) = Compress(BranchyModel(), "branchy", "int8-static");
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0219") && w.Contains("MatMul 'matmul_then' in If 'branch_on_energy'") && w.Contains("MatMul 'matmul_else'"));
        Assert.Contains("MatMul 'matmul_then' in If 'branch_on_energy'" + SubgraphQuantization.NotCalibrated,
            TestMaterials.QuantizeDetails(report)["leftFloat"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.True(File.Exists(output), $"{output} was not written");
        Assert.True(new FileInfo(output).Length <= new FileInfo(teacher).Length, $"{new FileInfo(output).Length} B written for a {new FileInfo(teacher).Length} B input");
    }

    [Theory]
    [InlineData("int8-dynamic", "MatMulInteger")]
    [InlineData("fp16", "MatMul")]
    public void MatMuls_in_a_Loop_body_quantize_and_the_loop_runs(string form, string bodyOp)
    {
        var (teacher, output, _) = Compress(LoopModel(), "loop", form);
        var body = OnnxModelAccess.Load(output).Graph.Node.Single(n => n.OpType == "Loop").Attribute.Single(a => a.G is not null).G;
        Assert.Contains(body.Node, n => n.OpType == bodyOp);
        Assert.DoesNotContain(body.Initializer, FloatWeight);
        AssertSmaller(teacher, output, form);
        AssertClose(teacher, output, "x", Rows(8, 32, 1f), [8, 32], Floor(form), form);
    }

    [Fact]
    public void Lstm_becomes_DynamicQuantizeLSTM_in_int8_dynamic()
    {
        var (teacher, output, report) = Compress(RecurrentModel("LSTM", 4), "lstm", "int8-dynamic");
        var graph = OnnxModelAccess.Load(output).Graph;
        var lstm = Assert.Single(graph.Node, n => n.OpType == "DynamicQuantizeLSTM");
        Assert.Equal("com.microsoft", lstm.Domain);
        Assert.DoesNotContain(graph.Node, n => n.OpType == "LSTM");
        // ONNX Runtime's layout: W [D, I, 4H], R [D, H, 4H] int8, per-row scales [D, 4H].
        var initializers = OnnxModelAccess.Initializers(graph);
        Assert.Equal([2L, 16, 4 * Hidden], OnnxModelAccess.Dims(initializers[lstm.Input[1]]));
        Assert.Equal([2L, Hidden, 4 * Hidden], OnnxModelAccess.Dims(initializers[lstm.Input[2]]));
        Assert.Equal((int)TensorProto.Types.DataType.Int8, initializers[lstm.Input[1]].DataType);
        Assert.Equal([2L, 4 * Hidden], OnnxModelAccess.Dims(initializers[lstm.Input[8]]));
        Assert.Equal(1, TestMaterials.QuantizeDetails(report)["candidates"]![0]!["quantizedNodes"]!.GetValue<int>());
        AssertSmaller(teacher, output, "int8-dynamic");
        AssertClose(teacher, output, "x", Rows(Steps * 4, 16, 1f), [Steps, 4, 16], Floor("int8-dynamic"), "lstm");
    }

    [Theory]
    [InlineData("LSTM", "int8-static")]
    [InlineData("LSTM", "int4-weight")]
    [InlineData("GRU", "int8-dynamic")]
    public void Recurrent_cells_a_form_does_not_reach_stay_float_and_are_named(string op, string form)
    {
        var (teacher, output, report) = Compress(RecurrentModel(op, 4), op.ToLowerInvariant(), form);
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0217") && w.Contains($"{op} '{op.ToLowerInvariant()}'"));
        Assert.Contains(TestMaterials.QuantizeDetails(report)["leftFloat"]!.AsArray(), n => n!.GetValue<string>().StartsWith($"{op} '{op.ToLowerInvariant()}'"));
        Assert.True(File.Exists(output), $"{output} was not written");
        Assert.True(new FileInfo(output).Length <= new FileInfo(teacher).Length, $"{new FileInfo(output).Length} B written for a {new FileInfo(teacher).Length} B input");
    }

    [Fact]
    public void Fp16_halves_recurrent_weights_too()
    {
        var (teacher, output, _) = Compress(RecurrentModel("GRU", 4), "gru", "fp16");
        AssertSmaller(teacher, output, "fp16");
        AssertClose(teacher, output, "x", Rows(Steps * 4, 16, 1f), [Steps, 4, 16], Floor("fp16"), "gru fp16");
    }

    static (string Teacher, string Output, CompressionReport Report) Compress(ModelProto model, string name, string form)
    {
        var dir = TestMaterials.TempDir();
        var teacher = Path.Combine(dir, name + ".onnx");
        OnnxModelAccess.Save(model, teacher);
        var input = model.Graph.Input[0].Type.TensorType.Shape.Dim.Select(d => d.DimValue > 0 ? d.DimValue : 8).ToArray();
        var count = (int)input.Aggregate(1L, (a, b) => a * b);
        var recipe = new CompressionRecipe
        {
            Teacher = teacher, Output = Path.Combine(dir, $"{name}-{form}.onnx"), Quantize = form, Force = true,
            CalibrationData = TestMaterials.SaveNpy(dir, "calib.npy", Enumerable.Range(0, count).Select(i => MathF.Sin(i * 0.13f)).ToArray(), input),
        };
        return (teacher, recipe.Output, TestMaterials.Run(recipe));
    }

    static void AssertSmaller(string teacher, string output, string form) =>
        Assert.True(new FileInfo(output).Length < new FileInfo(teacher).Length,
            $"{form}: {new FileInfo(output).Length} B written for a {new FileInfo(teacher).Length} B input");

    static void AssertClose(string teacher, string output, string input, float[] x, int[] shape, double floorDb, string what)
    {
        var reference = RunFirst(teacher, input, x, shape);
        var quantized = RunFirst(output, input, x, shape);
        Assert.Equal(reference.Length, quantized.Length);
        var sqnr = Metrics.Sqnr(reference, quantized);
        Assert.True(sqnr >= floorDb, $"{what}: output SQNR {sqnr:0.0} dB < {floorDb} dB");
    }

    static float[] RunFirst(string model, string input, float[] x, int[] shape)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(x, shape))]);
        return results.First().AsEnumerable<float>().ToArray();
    }

    static float[] Rows(int rows, int width, float sign) =>
        Enumerable.Range(0, rows * width).Select(i => sign * (0.3f + MathF.Abs(MathF.Sin(i * 0.37f)))).ToArray();

    static float[] Weights(int count, float phase, float scale = 0.2f) =>
        Enumerable.Range(0, count).Select(i => MathF.Cos(i * 0.07f + phase) * MathF.Sin(i * 0.013f + 1) * scale).ToArray();

    /// <summary>x [N,16] -> If(sum(x) > 0) { x @ W_then } else { x @ W_else } -> y [N,64]; the weights live in the branches.</summary>
    /// <param name="sharedWeight">One weight in the enclosing graph that both branches read (as exporters hoist shared weights).</param>
    internal static ModelProto BranchyModel(bool sharedWeight = false)
    {
        // The shared weight is wider: two int8 copies and their nodes must still be smaller than it at this toy size.
        var width = sharedWeight ? 256 : 64;
        var (model, g) = NewModel("branchy", Value("x", (int)TensorProto.Types.DataType.Float, "N", 16), Value("y", (int)TensorProto.Types.DataType.Float, "N", width));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("zero", [0f]));
        g.Node.Add(OnnxModelAccess.Node("ReduceSum", "energy", ["x"], ["sum"]));
        g.Node[^1].Attribute.Add(NodeAttributes.Int("keepdims", 0));
        g.Node.Add(OnnxModelAccess.Node("Greater", "positive", ["sum", "zero"], ["cond"]));
        var @if = OnnxModelAccess.Node("If", "branch_on_energy", ["cond"], ["y"]);
        if (sharedWeight) g.Initializer.Add(OnnxModelAccess.FloatTensor("w_shared", Weights(16 * width, 0.5f), 16, width));
        @if.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("then", 0.5f, sharedWeight, width) });
        @if.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = Branch("else", -0.25f, sharedWeight, width) });
        g.Node.Add(@if);
        return model;
    }

    static GraphProto Branch(string name, float phase, bool sharedWeight, int width)
    {
        var branch = new GraphProto { Name = name };
        if (!sharedWeight) branch.Initializer.Add(OnnxModelAccess.FloatTensor($"w_{name}", Weights(16 * 64, phase), 16, 64));
        branch.Node.Add(OnnxModelAccess.Node("MatMul", $"matmul_{name}", ["x", sharedWeight ? "w_shared" : $"w_{name}"], [$"p_{name}"]));
        // The branches differ after the product when they share the weight.
        branch.Node.Add(OnnxModelAccess.Node(name == "then" ? "Identity" : "Neg", $"finish_{name}", [$"p_{name}"], [$"y_{name}"]));
        branch.Output.Add(Value($"y_{name}", (int)TensorProto.Types.DataType.Float, "N", width));
        return branch;
    }

    /// <summary>x [N,32] -> Loop 3 times { h = tanh(h @ W) } -> y [N,32]; W lives in the body.</summary>
    static ModelProto LoopModel()
    {
        var (model, g) = NewModel("loop", Value("x", (int)TensorProto.Types.DataType.Float, "N", 32), Value("y", (int)TensorProto.Types.DataType.Float, "N", 32));
        g.Initializer.Add(OnnxModelAccess.Int64Tensor("trips", [3]));
        var body = new GraphProto { Name = "step" };
        body.Input.Add(Value("i", (int)TensorProto.Types.DataType.Int64));
        body.Input.Add(Value("keep_going", (int)TensorProto.Types.DataType.Bool));
        body.Input.Add(Value("h", (int)TensorProto.Types.DataType.Float, "N", 32));
        // Identity plus a perturbation: the state keeps its size over the steps (a contracting W would shrink it towards 0).
        body.Initializer.Add(OnnxModelAccess.FloatTensor("w_step", Weights(32 * 32, 0.1f, 0.3f).Select((w, i) => i % 33 == 0 ? w + 1 : w).ToArray(), 32, 32));
        body.Node.Add(OnnxModelAccess.Node("Identity", "carry_condition", ["keep_going"], ["keep_going_out"]));
        body.Node.Add(OnnxModelAccess.Node("MatMul", "matmul_step", ["h", "w_step"], ["hw"]));
        body.Node.Add(OnnxModelAccess.Node("Tanh", "squash", ["hw"], ["h_out"]));
        body.Output.Add(Value("keep_going_out", (int)TensorProto.Types.DataType.Bool));
        body.Output.Add(Value("h_out", (int)TensorProto.Types.DataType.Float, "N", 32));
        var loop = OnnxModelAccess.Node("Loop", "repeat", ["trips", "", "x"], ["y"]);
        loop.Attribute.Add(new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = body });
        g.Node.Add(loop);
        return model;
    }

    const int Steps = 6;
    const int Hidden = 24;

    /// <summary>x [T=6, N, 16] -> bidirectional LSTM or forward GRU (hidden 24) -> Y [T, D, N, 24].</summary>
    internal static ModelProto RecurrentModel(string op, int batch)
    {
        var gates = op == "LSTM" ? 4 : 3;
        var directions = op == "LSTM" ? 2 : 1;
        var (model, g) = NewModel(op.ToLowerInvariant(), Value("x", (int)TensorProto.Types.DataType.Float, "T", batch, 16), Value("y", (int)TensorProto.Types.DataType.Float));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("W", Weights(directions * gates * Hidden * 16, 0.3f, 0.5f), directions, gates * Hidden, 16));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("R", Weights(directions * gates * Hidden * Hidden, -0.7f, 0.4f), directions, gates * Hidden, Hidden));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("B", Weights(directions * 2 * gates * Hidden, 1.1f, 0.1f), directions, 2 * gates * Hidden));
        var cell = OnnxModelAccess.Node(op, op.ToLowerInvariant(), ["x", "W", "R", "B"], ["y"]);
        cell.Attribute.Add(NodeAttributes.Int("hidden_size", Hidden));
        if (directions == 2) cell.Attribute.Add(new AttributeProto { Name = "direction", Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8("bidirectional") });
        g.Node.Add(cell);
        return model;
    }

    static (ModelProto, GraphProto) NewModel(string name, ValueInfoProto input, ValueInfoProto output)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var g = model.Graph = new GraphProto { Name = name };
        g.Input.Add(input);
        g.Output.Add(output);
        return (model, g);
    }

    static ValueInfoProto Value(string name, int type, params object[] dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = type };
        if (dims.Length > 0 || type != (int)TensorProto.Types.DataType.Float) tensor.Shape = new TensorShapeProto();
        foreach (var d in dims)
            tensor.Shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }
}
