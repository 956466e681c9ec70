using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Losses;
using ModelBuild.Compression.Quantization;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// Quantization-aware distillation trains the student through what the static int8 step will do: int8 per-channel
/// weights and int8 activations on the inputs of the quantized nodes. With the activation ranges it observed, the
/// student's fake-quantized forward pass must be the QDQ model ONNX Runtime runs.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class QuantizationAwareDistillationTests : IDisposable
{
    static readonly TeacherCase Wine = new("wine-mlp");
    readonly ITestOutputHelper _output;
    readonly string _dir = Directory.CreateTempSubdirectory("mb-qad-").FullName;

    public QuantizationAwareDistillationTests(ITestOutputHelper output) => _output = output;
    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>
    /// What must hold for every seed, not one: seeds 0, 1 and 2 each train their own student and ranges, and each
    /// student's fake-quantized forward pass must be the QDQ model within one quantization step, with the same classes.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Fake_quantized_student_matches_the_onnx_runtime_qdq_model_built_from_its_observed_ranges(int seed)
    {
        var studentPath = Path.Combine(_dir, "qad.onnx");
        var result = StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = Wine.Teacher, StudentPath = Wine.StudentScratch, Reinitialize = true, OutputPath = studentPath,
            TrainingData = Wine.File("train_x.npy"), TrainingLabels = Wine.File("train_y.npy"),
            Epochs = 30, QuantizationAware = true, Seed = seed, Threads = 1,
        });
        Assert.True(result.NeedsInt8Step);
        var ranges = result.ActivationRanges!;
        var source = ModelBuild.Onnx.OnnxModel.Load(studentPath).Proto;
        var (_, planned, sameAs) = new StaticQdqInt8Quantizer().Plan(source.Graph);
        Assert.Equal(planned.Where(t => !sameAs.ContainsKey(t)).Order(), ranges.Keys.Order()); // every tensor the int8 step quantizes, observed
        Assert.Contains(source.Graph.Input[0].Name, ranges.Keys);

        // The int8 step with exactly these ranges (instead of a calibration) gives the QDQ model ORT runs.
        var prepared = GraphPreparation.Prepare(source, studentPath);
        var qdqPath = Path.Combine(_dir, "qad.qdq.onnx");
        var quantized = new StaticQdqInt8Quantizer().Quantize(prepared, ranges);
        File.WriteAllBytes(qdqPath, Google.Protobuf.MessageExtensions.ToByteArray(quantized.Model));
        Assert.True(quantized.QuantizedActivations >= ranges.Count);

        var x = DistillationData.ToInputTensor(NpyDataReader.Read(Wine.File("test_x.npy")));
        using var ort = new OrtTensorBridge(qdqPath, threads: 1);
        using var scope = torch.NewDisposeScope();
        var ortLogits = ort.Run(new Dictionary<string, Tensor> { ["input"] = x })[ort.OutputNames[0]];

        using var student = OnnxGraphImporter.Import(studentPath);
        student.eval();
        using var noGrad = torch.no_grad();
        var floatLogits = student.forward(x);
        var activations = new ActivationFakeQuantization(ranges);
        student.ParameterTransform = (name, w) => FakeQuantization.Apply(w, WeightAxis(student, name));
        student.ValueTransform = activations.Apply;
        student.TransformedValues = activations.Tensors;
        var fakeLogits = student.forward(x);

        // One quantization step: what one int8 step of every input of the last Gemm can move a logit by.
        var last = source.Graph.Node.Last(n => n.OpType == "Gemm");
        var lastInput = QuantizationMath.Int8Activation(ranges[last.Input[0]].Min, ranges[last.Input[0]].Max).Scales[0];
        double step = lastInput * student.OnnxParameters[last.Input[1]].detach().abs().sum(1).max().item<float>();
        double fakeVsOrt = fakeLogits.sub(ortLogits).abs().max().item<float>();
        double floatVsOrt = floatLogits.sub(ortLogits).abs().max().item<float>();
        double agreement = fakeLogits.argmax(1).eq(ortLogits.argmax(1)).to_type(ScalarType.Float32).mean().item<float>();
        _output.WriteLine($"seed {seed}: max |fake-quantized - ORT QDQ| {fakeVsOrt:G4}, max |float - ORT QDQ| {floatVsOrt:G4}, one step {step:G4}, top-1 agreement {agreement:P2}");
        Assert.True(fakeVsOrt <= step, $"fake-quantized student differs from the QDQ model by {fakeVsOrt:G4} > one quantization step {step:G4}");
        Assert.True(fakeVsOrt < floatVsOrt, "the fake-quantized forward should be closer to the int8 model than the float one");
        Assert.Equal(1.0, agreement);
    }

    /// <summary>
    /// The transformer trained through fake quantization, then quantized for real by the product's int8-static step
    /// (calibrated on calib_x, as <c>--distill --quantization-aware --quantize int8-static</c> does) and scored in ONNX
    /// Runtime: the int8 model is what the user ships, so its accuracy is what is asserted, over seeds 0, 1 and 2 (the
    /// start is the trained student; the seed moves the batch order and the dropout). The recipe (2 epochs on calib_x,
    /// lr 1e-4) is fixed, not tuned on the test split. Measured 2026-12-03 (benchmarks/RESULTS.md, "Quantization-aware
    /// distillation over seeds"): int8-static after QAD 89.92%, 90.08%, 89.83% for seeds 0-2 (mean 89.94%; float
    /// students 89.75%, 90.08%, 90.08%). The band: the mean at most 1 point under the reference scratch student
    /// (89.92%), every seed at most 2 points under it (one test sample is 0.083 points). A QAD that broke the weights
    /// (or an int8 step that broke the model) lands far below: a broken model of 12 classes scores about 8%.
    /// </summary>
    [Fact]
    public void Quantization_aware_transformer_observes_every_tensor_the_int8_step_quantizes_and_stays_accurate_after_int8_over_seeds()
    {
        var intent = new TeacherCase("synthetic-intent-transformer");
        var accuracies = new List<double>();
        for (int seed = 0; seed < 3; seed++)
        {
            var output = Path.Combine(_dir, $"intent-qad-s{seed}.onnx");
            var result = StudentDistiller.Distill(new DistillationOptions
            {
                TeacherPath = intent.Teacher, StudentPath = intent.StudentScratch, OutputPath = output, // trained weights as the start
                TrainingData = intent.File("calib_x.npy"), Epochs = 2, LearningRate = 1e-4, QuantizationAware = true, Seed = seed, Threads = 1,
            });
            Assert.True(result.NeedsInt8Step);
            var graph = ModelBuild.Onnx.OnnxModel.Load(output).Proto.Graph;
            var (_, planned, sameAs) = new StaticQdqInt8Quantizer().Plan(graph);
            // Inputs of the q/k/v/o/fc1/fc2 MatMuls, both attention MatMuls and the classifier Gemm: none fused away.
            Assert.Equal(planned.Where(t => !sameAs.ContainsKey(t)).Order(), result.ActivationRanges!.Keys.Order());
            Assert.All(result.ActivationRanges.Values, r => Assert.True(r.Min <= r.Max && float.IsFinite(r.Min) && float.IsFinite(r.Max)));
            Assert.StartsWith("off: quantization-aware", result.SequenceTruncation);
            Assert.Equal(4, result.FusedOperators);

            // The int8 step it trained for, for real: the product's static QDQ int8 of the trained student.
            var recipe = new Pipeline.Contract.CompressionRecipe
            {
                Teacher = output, Output = Path.Combine(_dir, $"intent-qad-int8-s{seed}.onnx"), Quantize = "int8-static", Force = true,
                CalibrationData = intent.File("calib_x.npy"),
            };
            TestMaterials.Run(recipe);
            var quantized = OnnxModelAccess.Load(recipe.Output).Graph;
            Assert.Contains(quantized.Node, n => n.OpType == "QuantizeLinear");
            Assert.DoesNotContain(QuantizableNode.Find(quantized), n => n.Kind is QuantizableKind.Gemm or QuantizableKind.MatMulWeight);
            double floatAccuracy = intent.OrtTestAccuracy(output), int8Accuracy = intent.OrtTestAccuracy(recipe.Output);
            _output.WriteLine($"seed {seed}: QAD transformer (2 epochs on calib_x, no labels) float {floatAccuracy * 100:F2}%, int8-static {int8Accuracy * 100:F2}%; {result.ActivationRanges.Count} activation ranges");
            accuracies.Add(int8Accuracy);
        }
        double scratch = intent.TestAccuracy("student_scratch"), mean = accuracies.Average();
        _output.WriteLine($"int8-static after QAD, seeds 0-2: {string.Join(", ", accuracies.Select(a => $"{a * 100:F2}%"))}, mean {mean * 100:F2}% (reference scratch {scratch * 100:F2}%)");
        Assert.True(mean >= scratch - 0.01, $"mean {mean * 100:F2}% over seeds 0-2 is more than 1 point below the reference scratch {scratch * 100:F2}%");
        Assert.All(accuracies, a => Assert.True(a >= scratch - 0.02, $"one seed at {a * 100:F2}%, more than 2 points below the reference scratch {scratch * 100:F2}%"));
    }

    static long? WeightAxis(OnnxGraphModule m, string name)
    {
        var node = m.Model.Graph.Node.FirstOrDefault(n => n.Input.Count > 1 && n.Input[1] == name);
        return node?.OpType switch
        {
            "Gemm" => node.Attribute.Any(a => a.Name == "transB" && a.I != 0) ? 0 : 1,
            "MatMul" => 1,
            _ => null,
        };
    }
}
