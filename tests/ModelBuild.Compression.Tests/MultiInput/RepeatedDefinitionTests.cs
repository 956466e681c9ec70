using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using Onnx;

namespace ModelBuild.Compression.Tests.MultiInput;

/// <summary>
/// gpt2-past-tiny defines 48 names twice (Constant nodes repeating another's output). Before: every quantize form wrote
/// two initializers of such a name, and <c>bench</c> on the output ended in MB0599 in SyntheticSample.
/// </summary>
public class RepeatedDefinitionTests
{
    [Theory]
    [InlineData("int8-dynamic")]
    [InlineData("int8-static")]
    [InlineData("int8-weights")]
    [InlineData("int4-weight")]
    [InlineData("fp16")]
    public void No_form_writes_a_name_twice_and_the_output_runs_on_generated_inputs(string form)
    {
        var dir = TestMaterials.TempDir();
        var model = TestMaterials.Model("gpt2-past-tiny");
        var recipe = new CompressionRecipe
        {
            Teacher = model, Output = Path.Combine(dir, $"out-{form}.onnx"), Quantize = form,
            CalibrationData = form == "int8-static" ? "generated:8" : null, EvaluationData = "generated:8", Force = true, MinAgreement = 0,
        };
        TestMaterials.Run(recipe);
        var written = OnnxModelAccess.Load(recipe.Output).Graph;
        // The form did rewrite the model (a copy of the teacher would pass the checks below trivially).
        Assert.NotEqual(File.ReadAllBytes(model), File.ReadAllBytes(recipe.Output));
        var repeated = written.Initializer.GroupBy(t => t.Name).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(repeated.Count == 0, $"{form}: initializers named twice: {string.Join(", ", repeated)}");
        var produced = written.Node.SelectMany(n => n.Output).Where(o => o.Length > 0).Concat(written.Initializer.Select(t => t.Name));
        Assert.Empty(produced.GroupBy(o => o).Where(g => g.Count() > 1).Select(g => g.Key));
        // What bench does with the output: generated inputs, then a run.
        var sample = SyntheticSample.For(recipe.Output);
        using var runner = new ModelRunner(recipe.Output);
        Assert.NotEmpty(runner.RunAll(sample, preferredBatch: 1, outputs: ["last_state"]).Values[0]);
    }

    /// <summary>
    /// A user's model with a Gather table named twice (ONNX Runtime loads it when the shapes agree and runs it with the
    /// last one): inputs are generated for it, below the table's 5 rows, and it runs on them (before: MB0599).
    /// </summary>
    [Fact]
    public void Generated_ids_respect_the_table_onnx_runtime_uses_when_a_name_repeats()
    {
        var dir = TestMaterials.TempDir();
        var path = Path.Combine(dir, "repeated-table.onnx");
        var model = new ModelProto { IrVersion = 8, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var g = model.Graph = new GraphProto { Name = "repeated" };
        var ids = new ValueInfoProto { Name = "input_ids", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Int64, Shape = new TensorShapeProto() } } };
        ids.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        ids.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 64 });
        g.Input.Add(ids);
        g.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        g.Initializer.Add(OnnxModelAccess.FloatTensor("table", TestMaterials.Random(5 * 4, 1), 5, 4));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("table", TestMaterials.Random(5 * 4, 2), 5, 4));
        g.Node.Add(OnnxModelAccess.Node("Gather", "embed", ["table", "input_ids"], ["y"]));
        OnnxModelAccess.Save(model, path);

        var sample = SyntheticSample.For(path, 4);
        var values = sample.Inputs.Single().Tensor.Int64s!;
        Assert.All(values, v => Assert.InRange(v, 0, 4));
        Assert.Contains(values, v => v > 1);
        using var runner = new ModelRunner(path);
        Assert.Equal(4 * 64 * 4, runner.RunAll(sample, preferredBatch: 4, outputs: ["y"]).Values[0].Length);
    }
}
