using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Quantization;

namespace ModelBuild.Compression.Tests;

/// <summary>The metric output chosen by name on the teacher also scores a student that names its outputs differently.</summary>
public class MetricOutputTests
{
    [Fact]
    public void A_named_metric_output_scores_a_student_whose_output_has_another_name_by_position()
    {
        var wine = TestMaterials.Teacher("wine-mlp");
        var teacher = Path.Combine(wine, "teacher.onnx");
        var model = OnnxModelAccess.Load(Path.Combine(wine, "student_kd.onnx"));
        var original = model.Graph.Output[0].Name;
        var renamed = original + "_student";
        model.Graph.Output[0].Name = renamed;
        foreach (var node in model.Graph.Node)
            for (var i = 0; i < node.Output.Count; i++) if (node.Output[i] == original) node.Output[i] = renamed;
        var student = Path.Combine(TestMaterials.TempDir(), "renamed.onnx");
        File.WriteAllBytes(student, OnnxModelAccess.Serialize(model));

        var teacherOutput = OnnxModelAccess.Load(teacher).Graph.Output[0].Name;
        var data = DataSource.Read(Path.Combine(wine, "test_x.npy"), new DataReadOptions(), Path.Combine(wine, "test_y.npy"));
        var evaluator = new ModelEvaluator(data.Inputs, data.LabelTensor, latencyRuns: 0, output: teacherOutput);
        evaluator.SetReference(teacher);
        var result = evaluator.Evaluate(student);
        Assert.NotNull(result.Accuracy);
        Assert.NotNull(result.Agreement);
        Assert.True(result.Agreement > 80, $"agreement {result.Agreement}");
    }
}
