using ModelBuild.Compression.Distillation.Losses;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ModelBuild.Compression.Tests.Distillation;

[Collection(TorchTrainingCollection.Name)]
public sealed class DistillationLossTests
{
    public DistillationLossTests() => ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();

    [Fact]
    public void Response_loss_is_the_hinton_formula_with_batchmean_kl()
    {
        var s = torch.tensor(new float[] { 1, 2, 0.5f, -1, 0, 3 }, new long[] { 2, 3 });
        var t = torch.tensor(new float[] { 2, 1, 0, 0, 1, 2 }, new long[] { 2, 3 });
        var y = torch.tensor(new long[] { 1, 2 });
        double T = 4, alpha = 0.9;
        // By hand in double: sum_i sum_c pt * (log pt - log ps) / B * T^2 * alpha + (1 - alpha) * mean CE.
        double expected = 0;
        var sv = s.data<float>().ToArray(); var tv = t.data<float>().ToArray(); var yv = new long[] { 1, 2 };
        for (int i = 0; i < 2; i++)
        {
            double[] ls = LogSoftmax(sv.Skip(3 * i).Take(3).Select(v => v / T).ToArray());
            double[] lt = LogSoftmax(tv.Skip(3 * i).Take(3).Select(v => v / T).ToArray());
            double kl = 0;
            for (int k = 0; k < 3; k++) kl += Math.Exp(lt[k]) * (lt[k] - ls[k]);
            expected += alpha * T * T * kl / 2;
            expected += (1 - alpha) * -LogSoftmax(sv.Skip(3 * i).Take(3).Select(v => (double)v).ToArray())[yv[i]] / 2;
        }
        var loss = new ResponseDistillationLoss(T, alpha).Compute(s, t, y).item<float>();
        Assert.Equal(expected, loss, 5);

        // Pure KD without labels: the soft term alone; zero when the student equals the teacher.
        Assert.Equal(0f, new ResponseDistillationLoss(T, alpha).Compute(t, t, null).item<float>(), 6);
    }

    [Fact]
    public void Label_smoothing_mixes_the_uniform_distribution_into_the_true_labels_only()
    {
        var s = torch.tensor(new float[] { 1, 2, 0.5f, -1, 0, 3 }, new long[] { 2, 3 });
        var t = torch.tensor(new float[] { 2, 1, 0, 0, 1, 2 }, new long[] { 2, 3 });
        var y = torch.tensor(new long[] { 1, 2 });
        double T = 4, alpha = 0.9, eps = 0.1;
        var sv = s.data<float>().ToArray(); var yv = new long[] { 1, 2 };
        // By hand: the hard term's target is (1 - eps) on the label plus eps / classes on every class.
        double smoothedCe = 0, plainCe = 0;
        for (int i = 0; i < 2; i++)
        {
            double[] ls = LogSoftmax(sv.Skip(3 * i).Take(3).Select(v => (double)v).ToArray());
            for (int k = 0; k < 3; k++) smoothedCe -= ((k == yv[i] ? 1 - eps : 0) + eps / 3) * ls[k] / 2;
            plainCe -= ls[yv[i]] / 2;
        }
        double plain = new ResponseDistillationLoss(T, alpha).Compute(s, t, y).item<float>();
        double smoothed = new ResponseDistillationLoss(T, alpha, eps).Compute(s, t, y).item<float>();
        Assert.Equal((1 - alpha) * (smoothedCe - plainCe), smoothed - plain, 5);
        // The teacher's soft targets are not smoothed: without labels the loss is unchanged.
        Assert.Equal(new ResponseDistillationLoss(T, 1.0).Compute(s, t, null).item<float>(),
            new ResponseDistillationLoss(T, 1.0, eps).Compute(s, t, null).item<float>(), 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ResponseDistillationLoss(T, alpha, 1.0));
    }

    static double[] LogSoftmax(IReadOnlyList<double> v)
    {
        double max = v.Max(), lse = Math.Log(v.Sum(x => Math.Exp(x - max))) + max;
        return v.Select(x => x - lse).ToArray();
    }

    [Fact]
    public void Feature_loss_projects_different_widths_and_trains_the_projection()
    {
        torch.manual_seed(0);
        var loss = new FeatureDistillationLoss(new[] { new FeaturePair("t", "s") });
        var teacher = new Dictionary<string, Tensor> { ["t"] = torch.randn(8, 6) };
        var student = new Dictionary<string, Tensor> { ["s"] = torch.randn(8, 3) };
        loss.Prepare(teacher, student);
        Assert.True(loss.HasProjections);
        var opt = torch.optim.Adam(loss.parameters(), 0.05);
        double first = 0, last = 0;
        for (int i = 0; i < 200; i++)
        {
            opt.zero_grad();
            var l = loss.Compute(teacher, student);
            if (i == 0) first = l.item<float>();
            last = l.item<float>();
            l.backward();
            opt.step();
        }
        Assert.True(last < first * 0.7, $"projection did not learn: {first} -> {last}");
        Assert.Equal(0f, new FeatureDistillationLoss(new[] { new FeaturePair("t", "t") }).Compute(teacher, new Dictionary<string, Tensor> { ["t"] = teacher["t"] }).item<float>());
    }

    [Fact]
    public void Relation_losses_ignore_scale_and_rotation_but_not_structure()
    {
        torch.manual_seed(1);
        var t = torch.randn(10, 4);
        // An orthogonal map times a scale keeps every distance ratio and angle.
        var (q, _) = torch.linalg.qr(torch.randn(4, 4));
        var same = t.matmul(q).mul(3.0);
        var other = torch.randn(10, 4);
        var rkd = new RelationDistillationLoss(RelationKind.DistanceAndAngle);
        Assert.True(rkd.Compute(t, same).item<float>() < 1e-5);
        Assert.True(rkd.Compute(t, other).item<float>() > 1e-2);
        var sp = new RelationDistillationLoss(RelationKind.SimilarityPreserving);
        Assert.True(sp.Compute(t, same).item<float>() < 1e-6);
        Assert.True(sp.Compute(t, other).item<float>() > 1e-3);
        // Widths may differ (relations are between samples).
        Assert.True(float.IsFinite(rkd.Compute(t, torch.randn(10, 7)).item<float>()));
    }

    [Fact]
    public void Fake_quantization_rounds_to_the_static_int8_weight_grid_and_passes_gradients_straight_through()
    {
        var w = torch.tensor(new float[] { 0.5f, -1.0f, 0.123f, 0.7f, 0.01f, -0.3f }, new long[] { 2, 3 }, requires_grad: true);
        var q = FakeQuantization.Apply(w, channelAxis: 0);
        // The static int8 step's 7-bit weight grid (QuantizationMath.StaticWeightMax = 64): row 0 scale 1/64, row 1
        // scale 0.7/64; every value is an integer multiple of its row's scale, within half a step of the float.
        var scales = torch.tensor(new float[] { 1f / 64, 0.7f / 64 }).reshape(2, 1);
        var k = q.detach().div(scales);
        Assert.True(k.sub(k.round()).abs().max().item<float>() < 1e-3);
        Assert.True(k.abs().max().item<float>() <= 64 + 1e-3);
        Assert.True(q.detach().sub(w.detach()).abs().max().item<float>() <= 0.5f / 64 + 1e-6);
        q.sum().backward();
        Assert.Equal(6, w.grad!.eq(1f).sum().item<long>());
    }
}
