using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Quantization;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// int8-weights stores the large float constants no weighted node reads (the synthetic-intent student's [1, 32, 64]
/// position table, sliced by the sequence trim) as int8 too, on the real student after the optimize stage's auto
/// fusions: no float constant of 1024 elements or more is left, ONNX Runtime still runs float's operators (the Cast +
/// Mul fold at load) and the logits stay those of the float model.
/// </summary>
public class Int8ConstantTablesTests
{
    [Fact]
    public void Int8_weights_leaves_no_large_float_constant_and_keeps_the_float_kernels_and_predictions()
    {
        var (dir, teacher, _, data, fused, _, prepared) = FusedIntentStudent();
        static List<string> LargeFloat(global::Onnx.GraphProto g) => g.Initializer
            .Where(t => OnnxModelAccess.IsFloat(t) && t.Dims.Count >= 2 && OnnxModelAccess.ElementCount(t) >= Int8ConstantTables.MinimumElements)
            .Select(t => t.Name).ToList();
        // Before: the packed QKV, the projections, the classifier, the token table and the position table.
        var weightNames = QuantizableNode.Find(prepared.Graph).Select(n => n.WeightName).ToHashSet();
        var tables = LargeFloat(prepared.Graph).Where(n => !weightNames.Contains(n) && !prepared.Graph.Node.Any(x => x.OpType == "Attention" && x.Input[1] == n)).ToList();
        Assert.NotEmpty(tables);

        var quantized = new Int8WeightStorage().Quantize(prepared).Model;
        Assert.Empty(LargeFloat(quantized.Graph));
        foreach (var table in tables)
            Assert.Contains(quantized.Graph.Initializer, t => t.Name == table + "_quantized" && t.DataType == (int)global::Onnx.TensorProto.Types.DataType.Int8);
        var weights = Path.Combine(dir, "weights.onnx");
        OnnxModelAccess.Save(quantized, weights);
        Assert.True(FloatKernelMatch.SameOperators(fused, weights));

        var evaluator = new ModelEvaluator(data, DataTensor.Load(Path.Combine(teacher, "test_y.npy")), 1, 0);
        evaluator.SetReference(fused);
        var result = evaluator.Evaluate(weights);
        Assert.True(result.Agreement >= 99.0, $"agreement {result.Agreement}");
        Assert.True(result.MinSqnr >= 30, $"logit SQNR {result.MinSqnr} dB");
        Directory.Delete(dir, true);
    }
}
