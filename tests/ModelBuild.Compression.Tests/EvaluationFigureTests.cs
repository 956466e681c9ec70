using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// No figure is invented: a converted classifier is scored on its predicted label, a model that cannot be scored or
/// data that cannot be matched is an error, and a figure that was not measured stays empty.
/// </summary>
public class EvaluationFigureTests
{
    private const int Features = 4, Classes = 3;

    /// <summary>Fixed weights of a linear classifier; the test computes its predictions itself.</summary>
    private static readonly float[] Weights = [1.0f, -0.5f, 0.2f, -1.0f, 0.8f, 0.3f, 0.5f, 0.1f, -0.9f, 0.2f, -0.4f, 1.1f];

    private enum Head { LabelThenProbabilities, Scores, OneScore }

    /// <summary>
    /// x[N,4] -> MatMul -> scores[N,3]. LabelThenProbabilities mirrors a converted scikit-learn / ML.NET classifier:
    /// first output ArgMax (int64 [N]), then Softmax probabilities. OneScore ends in one float per sample (a regressor).
    /// </summary>
    private static string Model(string dir, Head head, long batch = -1)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "ModelBuild.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var g = model.Graph = new GraphProto { Name = "classifier" };
        g.Input.Add(Value("x", TensorProto.Types.DataType.Float, batch, Features));
        var columns = head == Head.OneScore ? 1 : Classes;
        g.Initializer.Add(TensorData.Create("w", Weights.Take(Features * columns).ToArray(), Features, columns));
        g.Node.Add(Node("MatMul", ["x", "w"], "scores"));
        switch (head)
        {
            case Head.LabelThenProbabilities:
                var argMax = Node("ArgMax", ["scores"], "label");
                argMax.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
                argMax.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
                g.Node.Add(argMax);
                var softmax = Node("Softmax", ["scores"], "probabilities");
                softmax.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
                g.Node.Add(softmax);
                g.Output.Add(Value("label", TensorProto.Types.DataType.Int64, batch));
                g.Output.Add(Value("probabilities", TensorProto.Types.DataType.Float, batch, Classes));
                break;
            default:
                g.Output.Add(Value("scores", TensorProto.Types.DataType.Float, batch, columns));
                break;
        }
        var path = Path.Combine(dir, $"{head}-{batch}.onnx");
        OnnxModelAccess.Save(model, path);
        return path;
    }

    private static NodeProto Node(string op, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = output + "_node" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d > 0 ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = "N" });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    /// <summary>N samples and labels where every 10th label is deliberately wrong: the classifier scores exactly 90%.</summary>
    private static (string X, string Y) Data(string dir, int n, int labelCount = -1)
    {
        var x = TestMaterials.Random(n * Features, 7, -1, 1);
        var y = new long[labelCount < 0 ? n : labelCount];
        for (var i = 0; i < y.Length; i++)
        {
            var best = 0;
            var scores = new double[Classes];
            for (var c = 0; c < Classes; c++)
                for (var f = 0; f < Features; f++) scores[c] += x[(i % n) * Features + f] * Weights[f * Classes + c];
            for (var c = 1; c < Classes; c++) if (scores[c] > scores[best]) best = c;
            y[i] = i % 10 == 0 ? (best + 1) % Classes : best;
        }
        return (TestMaterials.SaveNpy(dir, $"x{n}.npy", x, n, Features), TestMaterials.SaveNpy(dir, $"y{n}-{y.Length}.npy", y, y.Length));
    }

    [Fact]
    public void A_classifier_whose_first_output_is_the_predicted_label_is_scored_on_that_label()
    {
        // Before: the int64 [N] label was arg-maxed as one score per sample, every prediction was class 0.
        var dir = TestMaterials.TempDir();
        var (x, y) = Data(dir, 200);
        var model = Model(dir, Head.LabelThenProbabilities);
        var evaluator = new ModelEvaluator(TestMaterials.Load(x), TestMaterials.Load(y), latencyRuns: 0);
        evaluator.SetReference(model);
        var result = evaluator.Evaluate(model);
        Assert.Equal(90.0, result.Accuracy!.Value, 6);
        Assert.Equal(100.0, result.Agreement!.Value, 6);

        // The same data scored through the pipeline's report, with the gate checked on the label.
        var recipe = new CompressionRecipe
        {
            Teacher = model, Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-dynamic",
            EvaluationData = x, EvaluationLabels = y, MaxAccuracyDrop = 5,
        };
        var report = TestMaterials.Run(recipe);
        Assert.Equal(90.0, report.Teacher.Accuracy!.Value, 6);
        Assert.InRange(report.Result.Accuracy!.Value, 85.0, 95.0);
    }

    [Fact]
    public void A_fixed_batch_model_with_fewer_rows_than_its_batch_is_an_error_not_zero_percent()
    {
        var dir = TestMaterials.TempDir();
        var (x, y) = Data(dir, 4);
        var recipe = new CompressionRecipe
        {
            Teacher = Model(dir, Head.Scores, batch: 8), Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-dynamic",
            EvaluationData = x, EvaluationLabels = y,
        };
        var e = Assert.ThrowsAny<ModelBuildException>(() => TestMaterials.Run(recipe));
        Assert.Equal("MB0534", e.Code);
        Assert.Contains("fixed batch of 8", e.Cause);
        Assert.False(File.Exists(recipe.Output));
    }

    [Theory]
    [InlineData(150)]
    [InlineData(250)]
    public void Labels_that_do_not_match_the_row_count_are_an_error(int labels)
    {
        var dir = TestMaterials.TempDir();
        var (x, y) = Data(dir, 200, labels);
        var recipe = new CompressionRecipe
        {
            Teacher = Model(dir, Head.Scores), Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-dynamic",
            EvaluationData = x, EvaluationLabels = y,
        };
        var e = Assert.ThrowsAny<ModelBuildException>(() => TestMaterials.Run(recipe));
        Assert.Equal("MB0510", e.Code);
        Assert.Contains($"{labels} entries", e.Cause);
    }

    [Fact]
    public void Agreement_that_cannot_be_measured_is_not_reported_as_100_and_its_gate_fails()
    {
        // One float per sample has no class: arg-max of it "agreed" 100% with anything.
        var dir = TestMaterials.TempDir();
        var (x, _) = Data(dir, 200);
        var recipe = new CompressionRecipe
        {
            Teacher = Model(dir, Head.OneScore), Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-dynamic", EvaluationData = x,
        };
        var report = TestMaterials.Run(recipe);
        Assert.Null(report.Result.Agreement);
        Assert.Null(report.Stages.Single().Agreement);

        recipe.MinAgreement = 99;
        File.Delete(recipe.Output); // written by the ungated run above
        var log = new StringWriter();
        var e = Assert.ThrowsAny<ModelBuildException>(() => TestMaterials.Run(recipe, log: log));
        Assert.Equal("MB0535", e.Code);
        Assert.Contains("agreement", e.Cause);
        // Refused on the teacher's figures, before any stage ran (not after quantizing).
        Assert.DoesNotContain("quantize:", log.ToString());
        Assert.Contains("evaluating teacher", log.ToString());
        Assert.False(File.Exists(recipe.Output));
    }

    [Fact]
    public void Accuracy_that_cannot_be_measured_fails_its_gate_with_MB0535_before_any_stage()
    {
        // Labelled data, but one float per sample has no predicted class: the accuracy gate cannot be checked.
        var dir = TestMaterials.TempDir();
        var (x, y) = Data(dir, 200);
        var recipe = new CompressionRecipe
        {
            Teacher = Model(dir, Head.OneScore), Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-dynamic",
            EvaluationData = x, EvaluationLabels = y, MaxAccuracyDrop = 1,
        };
        var log = new StringWriter();
        var e = Assert.ThrowsAny<ModelBuildException>(() => TestMaterials.Run(recipe, log: log));
        Assert.Equal("MB0535", e.Code);
        Assert.Equal(2, e.ExitCode);
        Assert.Contains("accuracy", e.Cause);
        Assert.DoesNotContain("quantize:", log.ToString());
        Assert.False(File.Exists(recipe.Output));
    }
}
