using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ModelBuild.Compression.Distillation.Losses;

public enum RelationKind
{
    /// <summary>Relational KD (Park et al. 2019): pairwise distances and triplet angles, smooth-L1.</summary>
    DistanceAndAngle,
    /// <summary>Similarity-preserving KD (Tung and Mori 2019): row-normalized batch Gram matrices, squared Frobenius.</summary>
    SimilarityPreserving,
}

/// <summary>
/// Relation-based distillation on one named tensor per model, flattened per sample: the student matches the teacher's
/// structure among the samples of a batch rather than the values themselves, so widths may differ.
/// </summary>
public sealed class RelationDistillationLoss(RelationKind kind = RelationKind.DistanceAndAngle, double distanceWeight = 1.0, double angleWeight = 2.0)
{
    public RelationKind Kind { get; } = kind;
    public double DistanceWeight { get; } = distanceWeight;
    public double AngleWeight { get; } = angleWeight;

    public Tensor Compute(Tensor teacher, Tensor student)
    {
        long batch = teacher.shape[0];
        var t = teacher.detach().reshape(batch, -1);
        var s = student.reshape(batch, -1);
        return Kind == RelationKind.SimilarityPreserving ? Similarity(t, s, batch) : DistanceAngle(t, s);
    }

    static Tensor Similarity(Tensor t, Tensor s, long batch)
    {
        var gt = F.normalize(t.matmul(t.t()), p: 2, dim: 1);
        var gs = F.normalize(s.matmul(s.t()), p: 2, dim: 1);
        var d = gt.sub(gs);
        return d.mul(d).sum().div(Kept.Of(batch * batch));
    }

    Tensor DistanceAngle(Tensor t, Tensor s)
    {
        // Distances normalized by their mean, as in the RKD paper, so the two spaces' scales do not matter.
        var td = PairwiseDistances(t);
        var sd = PairwiseDistances(s);
        var tdn = td.div(td.gt(Kept.Of(0)).any().item<bool>() ? td.sum().div(td.gt(Kept.Of(0)).sum()) : torch.ones(1));
        var sdn = sd.div(sd.gt(Kept.Of(0)).any().item<bool>() ? sd.sum().div(sd.gt(Kept.Of(0)).sum()) : torch.ones(1));
        var distance = F.smooth_l1_loss(sdn, tdn.detach());

        var ta = Angles(t);
        var sa = Angles(s);
        var angle = F.smooth_l1_loss(sa, ta.detach());
        return distance.mul(Kept.Of(DistanceWeight)).add(angle.mul(Kept.Of(AngleWeight)), Kept.One);
    }

    static Tensor PairwiseDistances(Tensor x)
    {
        var sq = x.pow(Kept.Of(2)).sum(1);
        var prod = x.matmul(x.t());
        var d = sq.unsqueeze(0).add(sq.unsqueeze(1), Kept.One).sub(prod.mul(Kept.Of(2))).clamp_min(Kept.Of(1e-12)).sqrt();
        // Zero the diagonal without an in-place op on a tensor autograd needs.
        return d.mul(torch.ones_like(d).sub(torch.eye(x.shape[0], dtype: d.dtype)));
    }

    static Tensor Angles(Tensor x)
    {
        var diff = x.unsqueeze(0).sub(x.unsqueeze(1));           // [B, B, D]: e_ij = x_i - x_j
        var unit = F.normalize(diff, p: 2, dim: 2);
        return unit.bmm(unit.transpose(1, 2)).reshape(-1);       // cosines of angle(i, j, k)
    }
}
