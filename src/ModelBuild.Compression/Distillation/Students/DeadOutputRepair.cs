using ModelBuild.Compression.Distillation.Import;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// A student whose class scores pass through a Relu on their way to the output (mnist-cnn-pytorch's
/// <c>fc2 -&gt; Relu -&gt; LogSoftmax</c>) can have a class whose Relu input is negative on every training row, from its
/// fresh weights or pushed there by training (the losses lower every wrong class's score). The Relu then passes no
/// gradient to it from any loss, so the class is never learned again nor predicted: PyTorch's own runs of that
/// architecture lost one or two of ten classes this way on every seed (benchmarks/RESULTS.md "Train-time BatchNorm").
/// Before every epoch such a class's weights are imprinted from the hidden features of the rows the teacher assigns
/// to it (see <see cref="Apply"/>), so that its score is positive on its own rows again; classes any row reaches are
/// left alone. Deterministic (no random draw), and nothing changes for a student without such a Relu or a dead class.
/// </summary>
internal static class DeadOutputRepair
{
    /// <summary>Rows of the training data the check runs on (the first ones, in their order).</summary>
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
            var dead = z.le(0).all(0);
            var deadClasses = Enumerable.Range(0, (int)dead.shape[0]).Where(c => dead[c].item<bool>()).ToArray();
            if (deadClasses.Length == 0) return null;
            var mean = h.mean([0]);
            var imprinted = new List<int>();
            foreach (var c in deadClasses)
            {
                // Weight imprinting (Qi et al., 2018): the class's weights point from the rows' mean hidden features to
                // the mean of the rows the teacher puts in the class, at the weights' old length, and its bias puts the
                // threshold half-way, so the revived score is positive where the class is and the other rows do not
                // push it back under at once. Without a row of the class in the sample only the bias moves.
                var rows = classes.eq(c).nonzero().flatten();
                var direction = rows.shape[0] > 0 ? h.index_select(0, rows).mean([0]) - mean : null;
                var w = found.TransposedWeight ? weight[c] : weight.select(1, c);
                if (direction is not null && direction.norm().item<float>() is var n && n > 1e-12f)
                {
                    w.copy_(direction * (w.norm() / n));
                    var middle = (h.index_select(0, rows).mean([0]) + mean) / 2;
                    bias[c].copy_(-(middle * w).sum());
                    imprinted.Add(c);
                }
                else bias[c].sub_(z.select(1, c).sort().Values[z.shape[0] / 2]);
            }
            string Classes(IEnumerable<int> cs) => string.Join(", ", cs);
            var rest = deadClasses.Except(imprinted).ToArray();
            return $"class{(deadClasses.Length == 1 ? "" : "es")} {Classes(deadClasses)}: no training row reached {(deadClasses.Length == 1 ? "its score" : "their scores")} through the Relu before the output; "
                + (imprinted.Count > 0 ? $"{found.Weight} imprinted from the teacher's rows of class{(imprinted.Count == 1 ? "" : "es")} {Classes(imprinted)}" : "")
                + (imprinted.Count > 0 && rest.Length > 0 ? ", " : "")
                + (rest.Length > 0 ? $"{found.Bias} raised to the median row for class{(rest.Length == 1 ? "" : "es")} {Classes(rest)} (no sampled row of {(rest.Length == 1 ? "it" : "them")})" : "");
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
        if (linear.OpType == "Gemm" && linear.Input.Count > 2 && linear.Attribute.All(a => a.Name != "transA" || a.I == 0))
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
