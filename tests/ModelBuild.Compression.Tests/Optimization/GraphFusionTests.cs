using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Optimization;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;
using Onnx;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests.Optimization;

/// <summary>
/// The optimize stage's fusions on the real shared transformers: each fusion yields its fused operator and fewer
/// nodes, and the fused graph's ONNX Runtime outputs stay within 1e-4 of the original's on the test split (measured
/// here, not taken from the product's own check, which ran on the calibration split). Patterns that compute
/// something else are not fused, and a rewrite that fails verification is dropped.
/// </summary>
public class GraphFusionTests
{
    const double Tolerance = 1e-4;

    static string Synthetic(string file) => Path.Combine(Teacher("synthetic-intent-transformer"), file);
    static string Bert(string file) => Path.Combine(Teacher("intent-bert"), file);

    static (string Model, string Verify, string Check) Case(string name) => name switch
    {
        "synthetic-teacher" => (Synthetic("teacher.onnx"), Synthetic("calib_x.npy"), Synthetic("test_x.npy")),
        "synthetic-student" => (Synthetic("student_kd.onnx"), Synthetic("calib_x.npy"), Synthetic("test_x.npy")),
        "bert-teacher" => (Bert("teacher.onnx"), Bert("calib.npz"), Bert("test.npz")),
        _ => throw new ArgumentException(name),
    };

    static InputSet Read(string data, string model) => DataSource.ReadInputSet(data, new DataReadOptions().ForModel(model));

    /// <summary>The registry's fusions up to and including <paramref name="fusion"/> (the earlier ones are its prerequisites).</summary>
    static IReadOnlyList<IGraphFusion> UpTo(string fusion)
    {
        var all = FusionRegistry.All();
        var index = all.ToList().FindIndex(f => f.Name == fusion);
        Assert.True(index >= 0, fusion);
        return all.Take(index + 1).ToList();
    }

    static Dictionary<string, int> Operators(string path) =>
        OnnxModel.Load(path).Graph.Nodes.GroupBy(n => (n.Domain is "" or "ai.onnx" ? "" : n.Domain + ".") + n.OpType).ToDictionary(g => g.Key, g => g.Count());

    static double MaxDifference(string a, string b, InputSet data) => OutputDifference.Max(a, b, data);

    [Theory]
    [InlineData("synthetic-teacher", "LayerNormalization", "LayerNormalization", 5)]
    [InlineData("synthetic-teacher", "EmbedLayerNormalization", "com.microsoft.EmbedLayerNormalization", 1)]
    [InlineData("synthetic-teacher", "SkipLayerNormalization", "com.microsoft.SkipLayerNormalization", 4)]
    [InlineData("synthetic-teacher", "Gelu", "com.microsoft.Gelu", 2)]
    [InlineData("synthetic-teacher", "BiasGelu", "com.microsoft.BiasGelu", 2)]
    [InlineData("synthetic-teacher", "Attention", "com.microsoft.Attention", 2)]
    [InlineData("synthetic-student", "Attention", "com.microsoft.Attention", 1)]
    [InlineData("synthetic-student", "SkipLayerNormalization", "com.microsoft.SkipLayerNormalization", 2)]
    [InlineData("bert-teacher", "EmbedLayerNormalization", "com.microsoft.EmbedLayerNormalization", 1)]
    [InlineData("bert-teacher", "SkipLayerNormalization", "com.microsoft.SkipLayerNormalization", 4)]
    [InlineData("bert-teacher", "BiasGelu", "com.microsoft.BiasGelu", 2)]
    [InlineData("bert-teacher", "Attention", "com.microsoft.Attention", 2)]
    public void Each_fusion_on_a_real_graph_gives_its_operator_fewer_nodes_and_the_same_outputs(string graph, string fusion, string op, int count)
    {
        var (model, verify, check) = Case(graph);
        var dir = TempDir();
        // The graph before this fusion (its prerequisites applied), then with it.
        var fusions = UpTo(fusion);
        var before = Path.Combine(dir, "before.onnx");
        var after = Path.Combine(dir, "after.onnx");
        var prior = new GraphOptimizer(fusions.Take(fusions.Count - 1).ToList()).Optimize(model, Read(verify, model).Take(64), before, Path.Combine(dir, "work"));
        if (!prior.Changed) File.Copy(model, before);
        var result = new GraphOptimizer(fusions).Optimize(model, Read(verify, model).Take(64), after, Path.Combine(dir, "work"));

        var outcome = result.Fusions.Single(f => f.Name == fusion);
        Assert.True(outcome.Kept, outcome.Note);
        Assert.Equal(count, outcome.Matches);
        var ops = Operators(after);
        Assert.Equal(count, ops.GetValueOrDefault(op));
        Assert.False(Operators(before).ContainsKey(op), $"{op} is already in the graph before {fusion}");
        Assert.True(OnnxModel.Load(after).Graph.Nodes.Count < OnnxModel.Load(before).Graph.Nodes.Count,
            $"{fusion}: {OnnxModel.Load(after).Graph.Nodes.Count} nodes after, {OnnxModel.Load(before).Graph.Nodes.Count} before");
        var difference = MaxDifference(model, after, Read(check, model));
        Assert.True(difference <= Tolerance, $"{fusion} on {graph}: outputs moved by {difference:G3} on the test split");
    }

    [Theory]
    [InlineData("synthetic-teacher", new[] { "LayerNormalization", "EmbedLayerNormalization", "SkipLayerNormalization", "BiasGelu", "Attention" }, new[] { "Add", "Softmax", "Transpose", "Erf", "ReduceMean", "Sqrt" })]
    [InlineData("bert-teacher", new[] { "EmbedLayerNormalization", "SkipLayerNormalization", "BiasGelu", "Attention" }, new[] { "Softmax", "Transpose", "Erf", "LayerNormalization", "Concat" })]
    public void The_whole_registry_leaves_only_fused_blocks(string graph, string[] fusedKinds, string[] gone)
    {
        var (model, verify, check) = Case(graph);
        var dir = TempDir();
        var output = Path.Combine(dir, "fused.onnx");
        // Every fusion; the sequence trim (SequenceTrimFusionTests) adds its own small length computation.
        var fusions = FusionRegistry.All().Where(f => f is not SequenceTrimFusion).ToList();
        var result = new GraphOptimizer(fusions).Optimize(model, Read(verify, model).Take(64), output, dir);
        foreach (var kind in fusedKinds) Assert.True(result.Fusions.Single(f => f.Name == kind).Kept, kind);
        var ops = Operators(output);
        foreach (var op in gone) Assert.False(ops.ContainsKey(op), $"{op} is left in the fused {graph}: {string.Join(", ", ops.Keys)}");
        Assert.True(result.NodesAfter * 4 < result.NodesBefore, $"{result.NodesBefore} -> {result.NodesAfter} nodes");
        Assert.True(MaxDifference(model, output, Read(check, model)) <= Tolerance);
    }

    [Fact]
    public void Auto_leaves_out_the_fusions_that_do_not_pay_on_the_cpu_provider()
    {
        var (model, verify, _) = Case("bert-teacher");
        var dir = TempDir();
        var output = Path.Combine(dir, "fused.onnx");
        var result = new GraphOptimizer(FusionRegistry.For("auto")).Optimize(model, Read(verify, model).Take(64), output, dir);
        Assert.DoesNotContain(result.Fusions, f => f.Name is "SkipLayerNormalization" or "EmbedLayerNormalization");
        // The trim is exact and pays at every batch size measured, so auto runs it, followed only by the pooling
        // rewrite and x != 0 as a Cast (which must come after it: both would change what it reads).
        Assert.Equal(["SequenceTrim", "MeanPoolingMatMul", "NotEqualZeroAsCast"], FusionRegistry.For("auto").TakeLast(3).Select(f => f.Name));
        Assert.Contains(result.Fusions, f => f is { Name: "SequenceTrim", Kept: true });
        var ops = Operators(output);
        Assert.Equal(2, ops["com.microsoft.Attention"]);
        Assert.Equal(2, ops["com.microsoft.BiasGelu"]);
        Assert.Equal(5, ops["LayerNormalization"]);
        Assert.Equal(11, FusionRegistry.For("all").Count);
    }

    /// <summary>Rewrites the synthetic teacher's first LayerNorm (block 0, ln1) with <paramref name="edit"/>.</summary>
    static string EditFirstLayerNorm(Action<OnnxGraph, NodeProto[]> edit)
    {
        var model = OnnxModel.Load(Synthetic("teacher.onnx"));
        var g = model.Graph;
        var first = g.Nodes.First(n => n.OpType == "ReduceMean");
        var sub = g.GetConsumers(first.Output[0]).Single();
        var pow = g.GetConsumers(sub.Output[0]).Single(n => n.OpType == "Pow");
        var mean2 = g.GetConsumers(pow.Output[0]).Single();
        var add = g.GetConsumers(mean2.Output[0]).Single();
        var sqrt = g.GetConsumers(add.Output[0]).Single();
        var div = g.GetConsumers(sqrt.Output[0]).Single();
        edit(g, [first, sub, pow, mean2, add, sqrt, div]);
        g.Invalidate();
        g.SortTopologically();
        var path = Path.Combine(TempDir(), "edited.onnx");
        model.Save(path);
        return path;
    }

    public static TheoryData<string> NonMatchingLayerNorms => ["other-axis", "epsilon-outside-sqrt"];

    [Theory]
    [MemberData(nameof(NonMatchingLayerNorms))]
    public void A_layer_norm_computing_something_else_is_not_fused(string variant)
    {
        var path = EditFirstLayerNorm((g, n) =>
        {
            var (mean, mean2, add, sqrt, div) = (n[0], n[3], n[4], n[5], n[6]);
            if (variant == "other-axis")
            {
                // Normalize over the sequence axis instead of the hidden one (a valid graph, another computation).
                foreach (var reduce in new[] { mean, mean2 })
                {
                    reduce.RemoveAttributes("axes");
                    reduce.Attribute.Add(NodeAttributes.Ints("axes", 1));
                }
            }
            else
            {
                // sqrt(var) + eps instead of sqrt(var + eps).
                sqrt.Input[0] = mean2.Output[0];
                add.Input[0] = sqrt.Output[0];
                div.Input[1] = add.Output[0];
            }
        });
        var dir = TempDir();
        var output = Path.Combine(dir, "fused.onnx");
        var result = new GraphOptimizer([new LayerNormFusion()]).Optimize(path, Read(Synthetic("calib_x.npy"), path).Take(32), output, dir);
        var outcome = result.Fusions.Single();
        Assert.True(outcome.Kept, outcome.Note);
        Assert.Equal(4, outcome.Matches); // the other four LayerNorms still fuse
        Assert.Equal(4, Operators(output).GetValueOrDefault("LayerNormalization"));
        Assert.True(MaxDifference(path, output, Read(Synthetic("test_x.npy"), path)) <= Tolerance);
    }

    /// <summary>The LayerNorm fusion made wrong on purpose: epsilon 1e4 times too large.</summary>
    sealed class WrongEpsilonLayerNorm : IGraphFusion
    {
        public string Name => "LayerNormalization";
        public string FusedOperator => "LayerNormalization";

        public int Apply(OnnxModel model)
        {
            var count = new LayerNormFusion().Apply(model);
            foreach (var ln in model.Graph.Nodes.Where(n => n.OpType == "LayerNormalization"))
            {
                var eps = ln.GetFloat("epsilon", 1e-5f);
                ln.RemoveAttributes("epsilon");
                ln.Attribute.Add(NodeAttributes.Float("epsilon", eps * 1e4f));
            }
            return count;
        }
    }

    [Fact]
    public void A_rewrite_that_fails_verification_is_dropped_and_the_graph_kept()
    {
        var model = Synthetic("teacher.onnx");
        var dir = TempDir();
        var output = Path.Combine(dir, "fused.onnx");
        var result = new GraphOptimizer([new WrongEpsilonLayerNorm(), new GeluFusion()]).Optimize(model, Read(Synthetic("calib_x.npy"), model).Take(32), output, dir);
        var dropped = result.Fusions[0];
        Assert.Equal(5, dropped.Matches);
        Assert.False(dropped.Kept);
        Assert.Contains("dropped", dropped.Note);
        // The next fusion starts from the graph without the dropped rewrite.
        Assert.True(result.Fusions[1].Kept);
        var ops = Operators(output);
        Assert.False(ops.ContainsKey("LayerNormalization"));
        Assert.Equal(10, ops["ReduceMean"]);
        Assert.Equal(2, ops["com.microsoft.Gelu"]);
    }

    [Fact]
    public void The_stage_reports_what_it_fused_and_warns_about_what_it_dropped()
    {
        var dir = TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = Synthetic("teacher.onnx"), Output = Path.Combine(dir, "out.onnx"),
            EvaluationData = Synthetic("test_x.npy"), EvaluationLabels = Synthetic("test_y.npy"),
        };
        var report = new CompressionPipeline([new OptimizeStage([new WrongEpsilonLayerNorm(), new GeluFusion(), new BiasGeluFusion()])]) { LatencyRuns = 0 }
            .Run(recipe, new WorkerProtocolLog(ModelBuild.TestSupport.ProducedCodes.Observing(new StringWriter())), Path.Combine(dir, "report.json"));
        var stage = report.Stages.Single();
        Assert.Equal("optimize", stage.Name);
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0230") && w.Contains("LayerNormalization"));
        var fused = stage.Details!["fused"]!.AsArray().Select(f => f!["fusion"]!.GetValue<string>()).ToList();
        Assert.Equal(["Gelu", "BiasGelu"], fused);
        Assert.Equal("LayerNormalization", stage.Details["dropped"]!.AsArray().Single()!["fusion"]!.GetValue<string>());
        Assert.Equal(report.Teacher.Accuracy, report.Result.Accuracy);
        Assert.Contains("com.microsoft.BiasGelu", Operators(recipe.Output).Keys);
    }

    [Fact]
    public void By_default_the_pipeline_fuses_and_without_data_says_the_check_ran_on_generated_inputs()
    {
        var dir = TempDir();
        var recipe = new CompressionRecipe { Teacher = Bert("teacher.onnx"), Output = Path.Combine(dir, "out.onnx") };
        var report = TestMaterials.Run(recipe);
        Assert.Equal("optimize", report.Stages.Single().Name);
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0231"));
        Assert.Contains("com.microsoft.Attention", Operators(recipe.Output).Keys);

        var none = new CompressionRecipe { Teacher = Bert("teacher.onnx"), Output = Path.Combine(dir, "none.onnx"), Optimize = "none", Quantize = "int8-dynamic" };
        Assert.DoesNotContain(TestMaterials.Run(none).Stages, s => s.Name == "optimize");
    }

    [Fact]
    public void A_model_without_patterns_passes_through_without_an_optimize_entry()
    {
        var dir = TempDir();
        var t = Teacher("wine-mlp");
        var recipe = new CompressionRecipe { Teacher = Path.Combine(t, "teacher.onnx"), Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-dynamic" };
        var report = TestMaterials.Run(recipe);
        Assert.Equal(["quantize"], report.Stages.Select(s => s.Name));
    }

    [Fact]
    public void An_unknown_optimize_word_is_refused()
    {
        var dir = TempDir();
        var recipe = new CompressionRecipe { Teacher = Synthetic("teacher.onnx"), Output = Path.Combine(dir, "out.onnx"), Optimize = "fast" };
        var e = Assert.Throws<ModelBuild.Onnx.Diagnostics.ModelBuildException>(() => TestMaterials.Run(recipe));
        Assert.Equal("MB0517", e.Code);
    }
}

/// <summary>Dynamic int8 on the fused graph: the fused Attention's packed weights become QAttention (integer GEMM).</summary>
public class FusedGraphQuantizationTests
{
    static string Synthetic(string file) => Path.Combine(Teacher("synthetic-intent-transformer"), file);

    [Fact]
    public void Dynamic_int8_turns_fused_attention_into_QAttention_and_keeps_the_predictions()
    {
        var dir = TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = Synthetic("teacher.onnx"), Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-dynamic",
            EvaluationData = Synthetic("test_x.npy"), EvaluationLabels = Synthetic("test_y.npy"),
        };
        var report = TestMaterials.Run(recipe);
        Assert.Equal(["optimize", "quantize"], report.Stages.Select(s => s.Name));
        var nodes = OnnxModel.Load(recipe.Output).Graph.Nodes;
        Assert.Equal(2, nodes.Count(n => n.OpType == "QAttention" && n.Domain == "com.microsoft"));
        Assert.DoesNotContain(nodes, n => n.OpType == "Attention");
        // The packed QKV weights are int8 now.
        var graph = OnnxModel.Load(recipe.Output).Graph;
        foreach (var q in nodes.Where(n => n.OpType == "QAttention"))
            Assert.Equal((int)TensorProto.Types.DataType.Int8, graph.GetInitializer(q.Input[1])!.DataType);
        // Top-1 agreement with the float teacher on the test split, measured here.
        var data = DataSource.ReadInputSet(Synthetic("test_x.npy"), new DataReadOptions().ForModel(recipe.Teacher));
        using var teacher = new ModelRunner(recipe.Teacher);
        using var quantized = new ModelRunner(recipe.Output);
        var a = teacher.RunAll(data).ArgMax();
        var b = quantized.RunAll(data).ArgMax();
        var agreement = a.Zip(b).Count(p => p.First == p.Second) * 100.0 / a.Length;
        Assert.True(agreement >= 99, $"agreement {agreement:0.00}%");
    }
}

/// <summary>
/// Static int8 on the fused graph: each fused Attention becomes QAttention reading a uint8 input quantized with the
/// calibrated range (QuantizeLinear, not DynamicQuantizeLinear), its packed QKV weight int8, the predictions kept.
/// </summary>
public class StaticFusedAttentionQuantizationTests
{
    static string Synthetic(string file) => Path.Combine(Teacher("synthetic-intent-transformer"), file);

    [Fact]
    public void Static_int8_runs_the_fused_attention_as_QAttention_with_a_calibrated_input()
    {
        var dir = TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = Synthetic("teacher.onnx"), Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-static",
            CalibrationData = Synthetic("calib_x.npy"), Force = true,
            EvaluationData = Synthetic("test_x.npy"), EvaluationLabels = Synthetic("test_y.npy"),
        };
        var report = TestMaterials.Run(recipe);
        Assert.Equal(["optimize", "quantize"], report.Stages.Select(s => s.Name));
        var graph = OnnxModel.Load(recipe.Output).Graph;
        var attentions = graph.Nodes.Where(n => n.OpType == "QAttention" && n.Domain == "com.microsoft").ToList();
        Assert.Equal(2, attentions.Count);
        Assert.DoesNotContain(graph.Nodes, n => n.OpType is "Attention" or "DynamicQuantizeLinear");
        foreach (var q in attentions)
        {
            Assert.Equal("QuantizeLinear", graph.GetProducer(q.Input[0])!.OpType);
            Assert.Equal((int)TensorProto.Types.DataType.Uint8, graph.GetInitializer(q.Input[6])!.DataType);
            Assert.Equal((int)TensorProto.Types.DataType.Int8, graph.GetInitializer(q.Input[1])!.DataType);
            Assert.True(graph.GetInitializer(q.Input[3])!.FloatData.Count == 1 || graph.GetInitializer(q.Input[3])!.RawData.Length == 4);
        }
        // Top-1 agreement with the float teacher on the test split, measured here.
        var data = DataSource.ReadInputSet(Synthetic("test_x.npy"), new DataReadOptions().ForModel(recipe.Teacher));
        using var teacher = new ModelRunner(recipe.Teacher);
        using var quantized = new ModelRunner(recipe.Output);
        var a = teacher.RunAll(data).ArgMax();
        var b = quantized.RunAll(data).ArgMax();
        var agreement = a.Zip(b).Count(p => p.First == p.Second) * 100.0 / a.Length;
        Assert.True(agreement >= 99, $"agreement {agreement:0.00}%");
    }
}

/// <summary>
/// tanh GELU (none of the shared transformers has it): a Linear layer followed by GPT-2's
/// 0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * x^3))) becomes FastGelu with its bias folded, with the same outputs.
/// </summary>
public class TanhGeluFusionTests
{
    static NodeProto Node(string op, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = output + "_node" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    static ValueInfoProto Value(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d > 0 ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = "N" });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }

    static string TanhGeluModel(string dir, bool cubeAsPow)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "ModelBuild.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var g = model.Graph = new GraphProto { Name = "tanh-gelu" };
        g.Input.Add(Value("x", -1, 8));
        g.Initializer.Add(ModelBuild.Onnx.Tensors.TensorData.Create("w", TestMaterials.Random(8 * 16, 3, -1, 1), 8, 16));
        g.Initializer.Add(ModelBuild.Onnx.Tensors.TensorData.Create("b", TestMaterials.Random(16, 4, -1, 1), 16));
        foreach (var (name, value) in new[] { ("three", 3f), ("k", 0.044715f), ("c", 0.7978845608f), ("one", 1f), ("half", 0.5f) })
            g.Initializer.Add(ModelBuild.Onnx.Tensors.TensorData.CreateScalar(name, value));
        g.Node.Add(Node("MatMul", ["x", "w"], "xw"));
        g.Node.Add(Node("Add", ["xw", "b"], "h"));
        if (cubeAsPow) g.Node.Add(Node("Pow", ["h", "three"], "cube"));
        else
        {
            g.Node.Add(Node("Mul", ["h", "h"], "square"));
            g.Node.Add(Node("Mul", ["h", "square"], "cube"));
        }
        g.Node.Add(Node("Mul", ["cube", "k"], "term"));
        g.Node.Add(Node("Add", ["h", "term"], "inner"));
        g.Node.Add(Node("Mul", ["inner", "c"], "scaled"));
        g.Node.Add(Node("Tanh", ["scaled"], "t"));
        g.Node.Add(Node("Add", ["t", "one"], "onePlus"));
        g.Node.Add(Node("Mul", ["h", "half"], "halfX"));
        g.Node.Add(Node("Mul", ["halfX", "onePlus"], "y"));
        g.Output.Add(Value("y", -1, 16));
        var path = Path.Combine(dir, $"tanh-gelu-{(cubeAsPow ? "pow" : "mul")}.onnx");
        OnnxModelAccess.Save(model, path);
        return path;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Tanh_gelu_becomes_FastGelu_with_its_bias(bool cubeAsPow)
    {
        var dir = TempDir();
        var model = TanhGeluModel(dir, cubeAsPow);
        var data = InputSet.Of(new DataTensor("<test>", [64, 8], TestMaterials.Random(64 * 8, 5, -3, 3), null, "float32"));
        var output = Path.Combine(dir, "fused.onnx");
        var result = new GraphOptimizer().Optimize(model, data, output, Path.Combine(dir, "work"));
        Assert.True(result.Fusions.Single(f => f.Name == "FastGelu").Kept);
        var nodes = OnnxModel.Load(output).Graph.Nodes;
        var fastGelu = Assert.Single(nodes, n => n.OpType == "FastGelu" && n.Domain == "com.microsoft");
        Assert.Equal(2, fastGelu.Input.Count); // the bias Add folded in
        Assert.Equal(["MatMul", "FastGelu"], nodes.Select(n => n.OpType));
        using var a = new ModelRunner(model);
        using var b = new ModelRunner(output);
        var ya = a.RunAll(data).Values[0];
        var yb = b.RunAll(data).Values[0];
        Assert.True(ya.Zip(yb).Max(p => Math.Abs(p.First - p.Second)) <= 1e-4);
    }
}
