using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Quantization;
using Onnx;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// int8-static's rule (<see cref="Int8KernelSizeRule"/>) on the real synthetic-intent graphs: which nodes ONNX Runtime
/// runs on integer kernels and which stay float, read from the optimized graph ONNX Runtime itself writes. On the
/// fused d 64 student only the Attention is integer (QAttention); the token Gather, the 64x64, 64x128 and 128x64
/// MatMuls, the pooling MatMul and the classifier Gemm run float with int8-stored weights and no QuantizeLinear in front. On the fused
/// d 128 teacher the 128x512 and 512x128 MatMuls and both Attentions are integer while the Gather, the 128x128
/// output projections and the 128x12 classifier stay float.
/// </summary>
public class Int8KernelSizeRuleTests
{
    [Fact]
    public void On_the_fused_student_only_the_attention_runs_integer_and_the_small_matmuls_run_float_with_int8_weights()
    {
        var (dir, teacher, student, data, fused, _, prepared) = FusedIntentStudent();
        var quantized = Quantize(prepared, teacher, student);
        var graph = quantized.Model.Graph;
        var path = Path.Combine(dir, "static.onnx");
        OnnxModelAccess.Save(quantized.Model, path);

        var small = QuantizableNode.Find(prepared.Graph).Where(n => n.Kind is QuantizableKind.MatMulWeight or QuantizableKind.Gemm or QuantizableKind.GatherEmbedding)
            .Select(n => n.Name).ToList();
        Assert.Equal(["/tok/Gather", "/blocks.0/o/MatMul", "/blocks.0/fc1/MatMul", "/blocks.0/fc2/MatMul", "/cls/Gemm"], small);
        // And the pooling's MatMul of two activations (one row per sample), before the classifier.
        Assert.Equal([.. small.SkipLast(1), "MeanPoolingMatMul", "/cls/Gemm"], quantized.KeptFloatForSpeed);
        Assert.Equal(["Attention"], quantized.QuantizedNodes);
        foreach (var name in small)
        {
            var node = graph.Node.Single(n => n.Name == name);
            var weight = node.OpType == "Gather" ? 0 : 1;
            AssertInt8Stored(graph, node.Input[weight]);
            Assert.DoesNotContain(graph.Node, n => n.OpType == "DequantizeLinear" && node.Input.Contains(n.Output[0]));
            Assert.DoesNotContain(graph.Node, n => n.OpType == "DequantizeLinear" && n.Input.Contains(node.Output[0]));
        }
        // One QuantizeLinear: QAttention's uint8 input.
        var q = Assert.Single(graph.Node, n => n.OpType == "QuantizeLinear");
        Assert.Equal("QAttention", graph.Node.Single(n => n.Input.Contains(q.Output[0])).OpType);

        // What ONNX Runtime runs: QAttention is the only integer kernel; the MatMuls and the Gemm are float's own.
        var ops = OptimizedOperators(path);
        Assert.Contains("com.microsoft:QAttention", ops);
        Assert.DoesNotContain(ops, o => o.EndsWith(":MatMulIntegerToFloat") || o.EndsWith(":QGemm") || o.EndsWith(":DequantizeLinear") || o.EndsWith(":DynamicQuantizeMatMul"));
        Assert.Equal(4, ops.Count(o => o == ":MatMul")); // o, fc1 (before BiasGelu), fc2 and the pooling
        Assert.Single(ops, o => o == ":Gemm");
        Assert.True(new FileInfo(path).Length < new FileInfo(fused).Length / 3, $"{new FileInfo(path).Length} B");

        var evaluator = new ModelEvaluator(data, DataTensor.Load(Path.Combine(teacher, "test_y.npy")), 1, 0);
        evaluator.SetReference(fused);
        Assert.True(evaluator.Evaluate(path).Agreement >= 99.0);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void On_the_fused_teacher_the_feed_forward_matmuls_and_attentions_run_integer_while_the_gather_projections_and_classifier_stay_float()
    {
        var folder = Teacher("synthetic-intent-transformer");
        var source = Path.Combine(folder, "teacher.onnx");
        var dir = TempDir();
        var fused = Path.Combine(dir, "fused.onnx");
        var data = DataSource.ReadInputSet(Path.Combine(folder, "test_x.npy"), new DataReadOptions().ForModel(source));
        new ModelBuild.Compression.Optimization.GraphOptimizer(ModelBuild.Compression.Optimization.FusionRegistry.Auto())
            .Optimize(source, data.Take(16), fused, Path.Combine(dir, "candidates"));
        var prepared = GraphPreparation.Prepare(OnnxModelAccess.Load(fused), fused);
        var quantized = Quantize(prepared, folder, source);

        Assert.Equal(["/tok/Gather", "/blocks.0/o/MatMul", "/blocks.1/o/MatMul", "MeanPoolingMatMul", "/cls/Gemm"], quantized.KeptFloatForSpeed);
        var matMuls = QuantizableNode.Find(prepared.Graph).Where(n => n.Kind == QuantizableKind.MatMulWeight).Select(n => n.Name).ToList();
        Assert.Equal(6, matMuls.Count); // o (128x128), fc1 (128x512), fc2 (512x128) of both blocks
        var feedForward = matMuls.Where(m => !m.EndsWith("/o/MatMul", StringComparison.Ordinal)).ToList();
        Assert.Equal(feedForward.Append("Attention").Append("Attention_1").Order(StringComparer.Ordinal), quantized.QuantizedNodes.Order(StringComparer.Ordinal));
        var path = Path.Combine(dir, "static.onnx");
        OnnxModelAccess.Save(quantized.Model, path);
        var ops = OptimizedOperators(path);
        Assert.True(ops.Count(o => o == "com.microsoft:MatMulIntegerToFloat") == 4, string.Join(" ", ops));
        Assert.Equal(2, ops.Count(o => o == "com.microsoft:QAttention"));
        Assert.Equal(3, ops.Count(o => o == ":MatMul")); // both o projections and the pooling
        Assert.DoesNotContain(ops, o => o.EndsWith(":QGemm"));
        Assert.Single(ops, o => o == ":Gemm");
        Directory.Delete(dir, true);
    }

    /// <summary>
    /// The wine MLP (13 -> 256 -> 256 -> 3 Gemms with ReLUs): the small first Gemm stays float, but the small last one
    /// stays int8 because it reads the 256x256 Gemm's output, which ONNX Runtime otherwise fuses with its ReLU in float
    /// and dequantizes its weight on every run: no DequantizeLinear is left in the optimized graph.
    /// </summary>
    [Fact]
    public void On_an_mlp_a_small_gemm_reading_an_int8_gemm_stays_int8_so_no_weight_is_dequantized_at_run_time()
    {
        var folder = Teacher("wine-mlp");
        var source = Path.Combine(folder, "teacher.onnx");
        var prepared = GraphPreparation.Prepare(OnnxModelAccess.Load(source), source);
        var quantized = Quantize(prepared, folder, source);
        Assert.Equal(["/0/Gemm"], quantized.KeptFloatForSpeed);
        Assert.Equal(["/3/Gemm", "/6/Gemm"], quantized.QuantizedNodes);
        var dir = TempDir();
        var path = Path.Combine(dir, "static.onnx");
        OnnxModelAccess.Save(quantized.Model, path);
        var ops = OptimizedOperators(path);
        Assert.True(ops.Count(o => o == "com.microsoft:QGemm") == 2 && !ops.Contains(":DequantizeLinear"), string.Join(" ", ops));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void The_speed_rule_is_on_by_default_off_when_asked_and_off_by_default_after_quantization_aware_distillation()
    {
        var folder = Teacher("wine-mlp");
        var dir = TempDir();
        // The 13-16-3 student: both Gemms are under 128 x 256 and neither reads an int8 output, so the rule keeps both float.
        (string[] Ops, System.Text.Json.Nodes.JsonObject Candidate) Run(string name, Action<Pipeline.Contract.CompressionRecipe> configure)
        {
            var recipe = TeacherRecipe("wine-mlp", Path.Combine(dir, name), "int8-static");
            recipe.Force = true;
            configure(recipe);
            var report = TestMaterials.Run(recipe);
            var candidate = QuantizeDetails(report)["candidates"]!.AsArray().Single(c => c!["form"]!.GetValue<string>() == "int8-static")!.AsObject();
            return (OnnxModelAccess.Load(recipe.Output).Graph.Node.Select(n => n.OpType).ToArray(), candidate);
        }
        var student = Path.Combine(folder, "student_scratch.onnx");

        var byDefault = Run("default.onnx", r => r.Teacher = student);
        Assert.DoesNotContain("QuantizeLinear", byDefault.Ops);
        Assert.Equal(2, byDefault.Candidate["keptFloatForSpeed"]!.AsArray().Count);

        var off = Run("off.onnx", r => { r.Teacher = student; Pipeline.Contract.RecipeSchema.Int8SpeedRule.Set(r, "off"); });
        Assert.Contains("QuantizeLinear", off.Ops);
        Assert.Null(off.Candidate["keptFloatForSpeed"]);

        // Distilled through fake quantization of every node's activations: auto quantizes what the student trained for.
        var qat = Run("qat.onnx", r =>
        {
            r.Distill = true; r.Student = student; r.Reinitialize = true; r.QuantizationAware = true; r.Epochs = 2;
            r.TrainingData = Path.Combine(folder, "train_x.npy"); r.TrainingLabels = Path.Combine(folder, "train_y.npy");
        });
        Assert.Contains("QuantizeLinear", qat.Ops);
        Assert.Null(qat.Candidate["keptFloatForSpeed"]);
        Directory.Delete(dir, true);
    }

    static QuantizedModel Quantize(ModelProto prepared, string teacherFolder, string model)
    {
        var calibration = DataSource.ReadInputSet(Path.Combine(teacherFolder, "calib_x.npy"), new DataReadOptions().ForModel(model));
        var ranges = new CalibrationCollector(1).Collect(prepared, new StaticQdqInt8Quantizer().Plan(prepared.Graph).Tensors, calibration, _ => { })
            .ToDictionary(h => h.Key, h => HistogramCalibrator.Range(h.Value, CalibrationMethod.MinMax), StringComparer.Ordinal);
        return new StaticQdqInt8Quantizer().Quantize(prepared, new QuantizeRequest(new HashSet<string>(), ranges));
    }

    /// <summary>int8 storage: the weight is Mul(Cast(int8 initializer), scale), which ONNX Runtime folds at load.</summary>
    static void AssertInt8Stored(GraphProto graph, string weight)
    {
        var mul = graph.Node.Single(n => n.Output.Contains(weight));
        Assert.Equal("Mul", mul.OpType);
        var cast = graph.Node.Single(n => n.Output.Contains(mul.Input[0]));
        Assert.Equal("Cast", cast.OpType);
        Assert.Equal((int)TensorProto.Types.DataType.Int8, graph.Initializer.Single(t => t.Name == cast.Input[0]).DataType);
    }

    /// <summary>domain:op of every node of the graph ONNX Runtime optimizes the file into (one thread, the gate's level).</summary>
    static List<string> OptimizedOperators(string model)
    {
        var optimized = Path.Combine(Path.GetDirectoryName(model)!, "ort-optimized.onnx");
        using (var options = OrtSessions.CreateOptions(1))
        {
            options.OptimizedModelFilePath = optimized;
            using var session = OrtSessions.Open(model, options);
        }
        return OnnxModelAccess.Load(optimized).Graph.Node.Select(n => n.Domain + ":" + n.OpType).ToList();
    }
}
