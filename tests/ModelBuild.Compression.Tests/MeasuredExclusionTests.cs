using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Quantization;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// Static int8's per-node exclusion by measurement (<see cref="MeasuredExclusion"/>) on the real synthetic-intent
/// student after the optimize stage's auto fusions, with fixed timings (float faster for the weight MatMuls, int8
/// faster for the rest) so that what is done with a measurement is checked, not the machine: exactly those MatMuls run
/// float in ONNX Runtime (no integer kernel, no QuantizeLinear in front of them), their weights are still int8 in the
/// file, the rest stays quantized (a layer the repair kept float keeps its float weight), and the logits stay those of the float model.
/// </summary>
public class MeasuredExclusionTests
{
    [Fact]
    public void Nodes_measured_faster_in_float_run_float_with_int8_stored_weights_and_the_rest_stays_int8()
    {
        var (dir, teacher, student, data, fused, _, prepared) = FusedIntentStudent();
        var ranges = new CalibrationCollector(1).Collect(prepared, new StaticQdqInt8Quantizer().Plan(prepared.Graph).Tensors,
                DataSource.ReadInputSet(Path.Combine(teacher, "calib_x.npy"), new DataReadOptions().ForModel(student)), _ => { })
            .ToDictionary(h => h.Key, h => HistogramCalibrator.Range(h.Value, CalibrationMethod.MinMax), StringComparer.Ordinal);
        // The QDQ rewrite without Int8KernelSizeRule (which would already keep these MatMuls float): the measurement's own handling is under test.
        QuantizedModel Build(IReadOnlySet<string> excluded) => new StaticQdqInt8Quantizer { ExcludedNodes = excluded }.Quantize(prepared, ranges);
        var weightMatMuls = QuantizableNode.Find(prepared.Graph).Where(n => n.Kind == QuantizableKind.MatMulWeight).ToList();
        Assert.True(weightMatMuls.Count >= 3, string.Join(", ", weightMatMuls.Select(n => n.Name)));
        // A layer the accuracy repair kept float stays float, weight included (a weight large enough for int8 storage).
        var repaired = weightMatMuls[0];
        Assert.True(OnnxModelAccess.ElementCount(prepared.Graph.Initializer.Single(t => t.Name == repaired.WeightName)) >= Int8ConstantTables.MinimumElements);
        var kept = new HashSet<string> { repaired.Name };
        var start = Build(kept);
        var matMuls = weightMatMuls.Skip(1).Select(n => n.Name).ToList();
        Assert.All(matMuls, m => Assert.Contains(m, start.QuantizedNodes));
        var asked = new List<string>();

        var result = new MeasuredExclusion
        {
            PairedRatio = (node, _, _, _, _) => { asked.Add(node); return matMuls.Contains(node) ? 0.9 : 1.1; },
        }.Run(start, kept, Build, data.Take(1), 200, dir);

        Assert.Equal(start.QuantizedNodes, asked);
        Assert.Equal(matMuls, result.KeptFloatForSpeed);
        Assert.Equal(asked.Count, result.Decisions.Count);
        var path = Path.Combine(dir, "measured.onnx");
        OnnxModelAccess.Save(result.Model.Model, path);
        var graph = result.Model.Model.Graph;
        foreach (var m in matMuls)
        {
            var node = graph.Node.Single(n => n.Name == m);
            Assert.Equal("MatMul", node.OpType);
            // int8 storage: Cast + Mul of an int8 initializer, not a DequantizeLinear (which ORT would fuse into an integer kernel).
            var mul = graph.Node.Single(n => n.Output.Contains(node.Input[1]));
            Assert.Equal("Mul", mul.OpType);
            var cast = graph.Node.Single(n => n.Output.Contains(mul.Input[0]));
            Assert.Equal("Cast", cast.OpType);
            Assert.Equal((int)global::Onnx.TensorProto.Types.DataType.Int8, graph.Initializer.Single(t => t.Name == cast.Input[0]).DataType);
            // Its activation is read as it is, not through a QuantizeLinear/DequantizeLinear pair.
            Assert.NotEqual("DequantizeLinear", graph.Node.SingleOrDefault(n => n.Output.Contains(node.Input[0]))?.OpType);
        }
        Assert.DoesNotContain(repaired.Name, asked);
        Assert.Contains(graph.Initializer, t => t.Name == repaired.WeightName && OnnxModelAccess.IsFloat(t));
        Assert.Contains(repaired.WeightName, graph.Node.Single(n => n.Name == repaired.Name).Input);
        // What int8 still won: the fused attention stays quantized.
        Assert.Contains(graph.Node, n => n.OpType == "QAttention");
        Assert.Contains(graph.Node, n => n.OpType == "QuantizeLinear");
        Assert.True(new FileInfo(path).Length < new FileInfo(fused).Length / 3, $"{new FileInfo(path).Length} B");

        var evaluator = new ModelEvaluator(data, DataTensor.Load(Path.Combine(teacher, "test_y.npy")), 1, 0);
        evaluator.SetReference(fused);
        var evaluation = evaluator.Evaluate(path);
        Assert.True(evaluation.Agreement >= 99.0, $"agreement {evaluation.Agreement}");
        Directory.Delete(dir, true);
    }
}
