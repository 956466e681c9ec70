using ModelBuild.Compression.Distillation.Import;
using Onnx;
using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// A student whose class scores pass through a Relu on their way to the output (mnist-cnn-pytorch's
/// <c>fc2 -&gt; Relu -&gt; LogSoftmax</c>) can have a class whose Relu input is negative on every row of that class, from
/// its fresh weights or pushed there by training (the losses lower every wrong class's score). The Relu then passes no
/// gradient to it from any loss, so the class is never learned again nor predicted: PyTorch's own runs of that
/// architecture lost one or two of ten classes this way on every seed (benchmarks/RESULTS.md "Train-time BatchNorm").
/// Before every epoch such a class's weights are imprinted from the hidden features of the rows the teacher assigns
/// to it (see <see cref="Apply"/>), so that its score is positive on its own rows again; classes any sampled row of
/// their own reaches, and classes no sampled row belongs to, are left alone. Deterministic (no random draw), and
/// nothing changes for a student without such a Relu or a dead class.
/// </summary>
internal static class DeadOutputRepair
{
    /// <summary>Rows of the training data the check runs on (a seeded random sample).</summary>
    public const int SampleRows = 512;

    /// <summary>Whether the student's class scores pass through a Relu before the output (with a bias to repair them by).</summary>
    public static bool Applies(OnnxGraphModule student) => FindScores(student) is not null;

    /// <summary>
    /// Repairs the dead classes in place; returns a description for the report, or null when none was dead.
    /// <paramref name="classes"/>: the teacher's class of each sample row.
    /// </summary>
    public static string? Apply(OnnxGraphModule student, TrainingInputs sample, Tensor classes)
    {
        if (FindScores(student) is not { } found) return null;
        var bias = student.OnnxParameters[found.Bias];
        var weight = student.OnnxParameters[found.Weight];
        var buffers = student.InitializerBuffers.Select(kv => (kv.Value, Saved: kv.Value.clone())).ToList();
        bool wasTraining = student.training;
        // Train mode for BatchNorm's batch statistics only: no dropout (it would draw from torch's generator and shift
        // every later draw) and no quantization-aware observers (they would take this sample as a batch).
        var (dropout, valueTransform) = (student.TrainingDropout, student.ValueTransform);
        student.TrainingDropout = 0;
        student.ValueTransform = null;
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            // Train mode: BatchNorms normalize with the batch's statistics, as in training.
            student.train();
            var run = student.Run(sample.For(student), [found.Scores, found.Hidden]);
            var z = run[found.Scores];
            var h = run[found.Hidden];
            if (z.dim() != 2 || h.dim() != 2 || z.shape[1] != bias.shape[0]) return null;
            // Dead: none of the sampled rows the teacher puts in the class passes the Relu. Those rows are the ones that
            // would raise its score; the others only lower it (a class alive on a few other classes' rows still dies).
            // A class the sample holds no row of (e.g. most of 1,000 classes in 512 rows) is left alone.
            var deadClasses = Enumerable.Range(0, (int)z.shape[1]).Where(c =>
            {
                var own = classes.eq(Kept.Of(c));
                return own.any().item<bool>() && z.select(1, c).masked_select(own).le(Kept.Of(0)).all().item<bool>();
            }).ToArray();
            if (deadClasses.Length == 0) return null;
            var mean = h.mean([0]);
            var imprinted = new List<int>();
            foreach (var c in deadClasses)
            {
                // Weight imprinting (Qi et al., 2018): the class's weights point from the rows' mean hidden features to
                // the mean of the rows the teacher puts in the class, at the weights' old length, and its bias puts the
                // threshold half-way, so the revived score is positive where the class is and the other rows do not
                // push it back under at once (raising the bias alone let them: benchmarks/RESULTS.md).
                var own = h.index_select(0, classes.eq(Kept.Of(c)).nonzero().flatten()).mean([0]);
                var direction = own - mean;
                var n = direction.norm().item<float>();
                if (!(n > 1e-12f)) continue; // the class's rows look like all rows: nothing to point at
                var w = found.TransposedWeight ? weight[c] : weight.select(1, c);
                using (Scalar length = n.ToScalar()) w.copy_(direction * w.norm().div(length)); // n depends on the data: not kept
                bias[c].copy_(-own.add(mean, Kept.One).div(Kept.Of(2)).mul(w).sum());
                imprinted.Add(c);
            }
            if (imprinted.Count == 0) return null;
            return $"class{(imprinted.Count == 1 ? "" : "es")} {string.Join(", ", imprinted)}: none of {(imprinted.Count == 1 ? "its" : "their")} sampled training rows reached {(imprinted.Count == 1 ? "its score" : "their scores")} through the Relu before the output; "
                + $"{found.Weight} imprinted from the teacher's rows of {(imprinted.Count == 1 ? "it" : "them")}";
        }
        finally
        {
            // The check must not move BatchNorm's running statistics.
            foreach (var (buffer, saved) in buffers)
            {
                using (torch.no_grad()) buffer.copy_(saved);
                saved.Dispose();
            }
            student.train(wasTraining);
            (student.TrainingDropout, student.ValueTransform) = (dropout, valueTransform);
        }
    }

    sealed record ScoreLayer(string Scores, string Hidden, string Weight, bool TransposedWeight, string Bias);

    /// <summary>
    /// The Relu's input on the way to the (single) output through Softmax/LogSoftmax/Identity, made by a Gemm (or
    /// MatMul + Add) with trainable weight and bias: its input, weight (layout) and bias.
    /// </summary>
    static ScoreLayer? FindScores(OnnxGraphModule student)
    {
        if (student.OutputNames.Count != 1) return null;
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in student.Model.Graph.Node) foreach (var o in n.Output) producers[o] = n;
        var value = student.OutputNames[0];
        while (producers.TryGetValue(value, out var p) && p.OpType is "LogSoftmax" or "Softmax" or "Identity") value = p.Input[0];
        if (!producers.TryGetValue(value, out var relu) || relu.OpType != "Relu") return null;
        var scores = relu.Input[0];
        if (!producers.TryGetValue(scores, out var linear) || !student.HasTensor(scores)) return null;
        bool Trainable(string name, int rank) => student.OnnxParameters.TryGetValue(name, out var t) && t.dim() == rank;
        ScoreLayer? found = null;
        // alpha = beta = 1 only: the imprinted weights and the half-way bias are worked out for scores = h W + b.
        if (linear.OpType == "Gemm" && linear.Input.Count > 2 && linear.Attribute.All(a => a.Name switch { "transA" => a.I == 0, "alpha" or "beta" => a.F == 1f, _ => true }))
        {
            bool transB = linear.Attribute.Any(a => a.Name == "transB" && a.I != 0);
            found = new ScoreLayer(scores, linear.Input[0], linear.Input[1], transB, linear.Input[2]);
        }
        else if (linear.OpType == "Add" && linear.Input.FirstOrDefault(i => Trainable(i, 1)) is { } b
            && linear.Input.FirstOrDefault(i => i != b) is { } product && producers.TryGetValue(product, out var matMul) && matMul.OpType == "MatMul")
            found = new ScoreLayer(scores, matMul.Input[0], matMul.Input[1], false, b);
        return found is not null && Trainable(found.Weight, 2) && Trainable(found.Bias, 1) && student.HasTensor(found.Hidden) ? found : null;
    }
}
