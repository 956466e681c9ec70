using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// bert-squad-keras2onnx-tiny (24 layers, three int32 inputs, two outputs, no data) distilled into a derived half-depth
/// student on generated inputs: the student has 12 layers, the teacher's inputs and outputs, and runs in ONNX Runtime.
/// One epoch: the subject is that the whole path runs with every input, not what the student learns.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class BertSquadStudentTests
{
    [Fact]
    public void Half_depth_student_distilled_on_generated_inputs_runs_in_ORT_with_every_input_and_output()
    {
        var teacher = TestMaterials.Model("bert-squad-keras2onnx-tiny");
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe
        {
            Teacher = teacher, Output = Path.Combine(dir, "student.onnx"),
            Distill = true, StudentDepth = 0.5, TrainingData = "generated:32", Epochs = 1, BatchSize = 16,
        };
        TestMaterials.Run(recipe);

        var student = OnnxModel.Load(recipe.Output);
        Assert.Equal(12, student.Proto.Graph.Node.Count(n => n.OpType == "Softmax"));
        Assert.Equal(24, OnnxModel.Load(teacher).Proto.Graph.Node.Count(n => n.OpType == "Softmax"));
        using var runner = new ModelRunner(recipe.Output);
        Assert.Equal(["attention_mask", "input_ids", "token_type_ids"], runner.InputNames);
        var outputs = runner.RunAll(DataSource.ReadInputSet("generated:4", new DataReadOptions { ModelPath = teacher }));
        Assert.Equal(["output_1", "output_2"], outputs.Names);
        Assert.All(outputs.Values, v => Assert.Equal(4 * 7, v.Length));
        Assert.All(outputs.Values, v => Assert.All(v, x => Assert.True(float.IsFinite(x))));
    }
}
