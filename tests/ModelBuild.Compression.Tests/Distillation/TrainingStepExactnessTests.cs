using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Losses;
using ModelBuild.Compression.Distillation.Students;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// What makes a small student's training step cheaper must not change a bit of what it computes: the distiller's
/// <see cref="LeanAdamW"/> against TorchSharp's AdamW, and the teacher's log-probabilities computed once for all rows
/// against per batch, on the wine MLP's real data, teacher and student, step after step.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class TrainingStepExactnessTests
{
    static readonly TeacherCase Wine = new("wine-mlp");

    static (Tensor X, Tensor Y, Tensor TeacherLogits) WineData()
    {
        var x = DistillationData.ToInputTensor(NpyDataReader.Read(Wine.File("train_x.npy")));
        var y = torch.tensor(NpyArray.Read(Wine.File("train_y.npy")).ToInt64Array());
        using var teacher = OnnxGraphImporter.Import(ModelBuild.Onnx.OnnxModel.Load(Wine.Teacher).Proto, "teacher");
        teacher.eval();
        using var noGrad = torch.no_grad();
        return (x, y, teacher.forward(x).detach());
    }

    static OnnxGraphModule Student(int seed)
    {
        torch.manual_seed(seed);
        var student = OnnxGraphImporter.Import(ModelBuild.Onnx.OnnxModel.Load(Wine.StudentScratch).Proto, "student");
        PyTorchDefaultInitializer.Apply(student);
        student.train();
        return student;
    }

    static Dictionary<string, float[]> Weights(OnnxGraphModule m) =>
        m.OnnxParameters.ToDictionary(kv => kv.Key, kv => kv.Value.detach().data<float>().ToArray());

    [Theory]
    [InlineData(0.0, null)]  // the MLP references' Adam: no weight decay, no clipping
    [InlineData(0.01, 1.0)]  // the distiller's defaults: decoupled weight decay, gradients clipped at norm 1
    public void Lean_AdamW_gives_TorchSharps_AdamW_weights_bit_for_bit_step_after_step(double weightDecay, double? clip)
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.set_num_threads(1);
        using var scope = torch.NewDisposeScope();
        var (x, y, teacherLogits) = WineData();
        var loss = new ResponseDistillationLoss(4, 0.9);
        using var reference = Student(3);
        using var lean = Student(3);
        var referenceParameters = reference.parameters().ToList();
        var leanParameters = lean.parameters().ToList();
        using var torchSharpAdamW = torch.optim.AdamW(referenceParameters, 1e-3, weight_decay: weightDecay);
        using var leanAdamW = new LeanAdamW(leanParameters, 1e-3, weightDecay: weightDecay);
        var order = new Random(7);
        for (int step = 0; step < 60; step++)
        {
            using var stepScope = torch.NewDisposeScope();
            var rows = torch.tensor(Enumerable.Range(0, 32).Select(_ => (long)order.Next((int)x.shape[0])).ToArray());
            var (xb, tb, yb) = (x.index_select(0, rows), teacherLogits.index_select(0, rows), y.index_select(0, rows));
            double lr = StudentDistiller.ScheduledLearningRate(3e-2, step, 6, 60); // a large rate: the weights move far in 60 steps

            foreach (var g in torchSharpAdamW.ParamGroups) g.LearningRate = lr;
            var l1 = loss.Compute(reference.forward(xb), tb, yb);
            torchSharpAdamW.zero_grad();
            l1.backward();
            if (clip is { } c1) torch.nn.utils.clip_grad_norm_(referenceParameters, c1);
            torchSharpAdamW.step();

            leanAdamW.LearningRate = lr;
            var l2 = loss.Compute(lean.forward(xb), tb, yb);
            leanAdamW.ZeroGrad();
            l2.backward();
            if (clip is { } c2) torch.nn.utils.clip_grad_norm_(leanParameters, c2);
            leanAdamW.Step();

            Assert.Equal(l1.item<float>(), l2.item<float>());
            var expected = Weights(reference);
            foreach (var (name, w) in Weights(lean)) Assert.True(expected[name].AsSpan().SequenceEqual(w), $"{name} differs after step {step + 1}");
        }
        // The weights did train (a test of equality between two optimizers that did nothing would pass as well).
        using var fresh = Student(3);
        Assert.Contains(Weights(fresh), kv => !kv.Value.AsSpan().SequenceEqual(Weights(lean)[kv.Key]));
    }

    [Fact]
    public void Teacher_log_probabilities_computed_once_give_the_per_batch_loss_and_gradients_bit_for_bit()
    {
        ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();
        torch.set_num_threads(1);
        using var scope = torch.NewDisposeScope();
        var (x, y, teacherLogits) = WineData();
        var loss = new ResponseDistillationLoss(4, 0.9);
        using var student = Student(5);
        var allRows = loss.TeacherLogProbabilities(teacherLogits);
        var order = new Random(11);
        foreach (int batch in new[] { 1, 7, 32, 124 })
        {
            var rows = torch.tensor(Enumerable.Range(0, batch).Select(_ => (long)order.Next((int)x.shape[0])).ToArray());
            var (xb, yb) = (x.index_select(0, rows), y.index_select(0, rows));
            var (perBatch, perBatchGrads) = LossAndGradients(student, s => loss.Compute(s, teacherLogits.index_select(0, rows), yb), xb);
            var (once, onceGrads) = LossAndGradients(student, s => loss.ComputeFromTeacherLogProbabilities(s, allRows.index_select(0, rows), yb), xb);
            Assert.Equal(perBatch, once);
            foreach (var (name, g) in perBatchGrads) Assert.True(g.AsSpan().SequenceEqual(onceGrads[name]), $"gradient of {name}, batch {batch}");
        }
    }

    static (float Loss, Dictionary<string, float[]> Gradients) LossAndGradients(OnnxGraphModule student, Func<Tensor, Tensor> loss, Tensor x)
    {
        foreach (var p in student.parameters()) p.grad = null;
        var l = loss(student.forward(x));
        l.backward();
        return (l.item<float>(), student.OnnxParameters.ToDictionary(kv => kv.Key, kv => kv.Value.grad!.data<float>().ToArray()));
    }
}
