using ModelBuild.Compression.Distillation.Import;
using Onnx;
using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Synthetic;

/// <summary>Settings of <see cref="DeepInversionSynthesizer"/>; the defaults follow the DeepInversion paper's small-network setting.</summary>
public sealed class DeepInversionOptions
{
    /// <summary>Inputs optimized together; BatchNorm statistics are matched per batch, so batches need some size.</summary>
    public int BatchSize { get; init; } = 128;
    /// <summary>Adam steps per batch.</summary>
    public int Steps { get; init; } = 200;
    public double LearningRate { get; init; } = 0.1;
    /// <summary>Weight of the BatchNorm statistics term (sum over layers of ||mean - running_mean||_2 + ||var - running_var||_2).</summary>
    public double BatchNormWeight { get; init; } = 1.0;
    /// <summary>Weight of the total-variation prior (mean absolute difference of neighbouring pixels), images only.</summary>
    public double TotalVariationWeight { get; init; } = 1e-3;
    /// <summary>Weight of the L2 prior (mean squared input value).</summary>
    public double L2Weight { get; init; } = 1e-4;
    /// <summary>Random shifts of up to this many pixels before each step (DeepInversion's jitter), images only.</summary>
    public int Jitter { get; init; } = 2;
}

/// <summary>
/// Data-free synthetic inputs (Yin et al., "Dreaming to Distill: Data-free Knowledge Transfer via DeepInversion",
/// CVPR 2020): inputs start as Gaussian noise and are optimized with Adam, through the teacher imported into TorchSharp
/// in eval mode, so that the teacher classifies them as their target class (cross-entropy) while the batch statistics
/// of every BatchNormalization input match the layer's running mean and variance, plus small total-variation and L2
/// priors. The running statistics summarize the teacher's training data, so matching them pulls the inputs towards
/// that distribution. Targets cycle through the classes, so every class gets the same number of inputs (+-1).
/// Deterministic for a seed (torch's generator for the noise, <see cref="Random"/> for the jitter).
/// </summary>
public static class DeepInversionSynthesizer
{
    /// <param name="progress">Receives one line per optimized batch (a long data-free run would otherwise be silent for minutes).</param>
    public static Tensor Generate(ModelProto teacher, string teacherFile, int count, int seed, DeepInversionOptions? options = null, Action<string>? progress = null)
    {
        var o = options ?? new DeepInversionOptions();
        var batchNorms = teacher.Graph.Node.Where(n => n.OpType == "BatchNormalization").ToList();
        if (batchNorms.Count == 0) throw DeepInversionErrors.NoBatchNormalization(teacherFile);

        using var module = OnnxGraphImporter.Import(teacher, teacherFile);
        module.eval();
        foreach (var p in module.parameters()) p.requires_grad = false;
        if (module.InputNames.Count != 1) throw DeepInversionErrors.UnsupportedInput(teacherFile, $"it has {module.InputNames.Count} inputs.");
        var input = teacher.Graph.Input.First(i => i.Name == module.InputNames[0]);
        if (input.Type.TensorType.ElemType != (int)TensorProto.Types.DataType.Float)
            throw DeepInversionErrors.UnsupportedInput(teacherFile, $"input '{input.Name}' is not float32 (token ids cannot be optimized by gradient).");
        var dims = input.Type.TensorType.Shape.Dim.Skip(1)
            .Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? d.DimValue : -1L).ToArray();
        if (dims.Length == 0 || dims.Any(d => d <= 0))
            throw DeepInversionErrors.UnsupportedInput(teacherFile, $"input '{input.Name}' has no fixed dimensions after the batch axis.");

        var statistics = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, t) in module.InitializerBuffers) statistics[name] = t;
        foreach (var (name, t) in module.OnnxParameters) statistics[name] = t;
        var layers = batchNorms.Select(n => (Input: n.Input[0], Mean: statistics[n.Input[3]], Var: statistics[n.Input[4]])).ToList();
        string output = module.OutputNames[0];
        var fetch = layers.Select(l => l.Input).Append(output).Distinct().ToArray();
        bool image = dims.Length == 3;

        torch.manual_seed(seed);
        var jitter = new Random(seed);
        var batches = new List<Tensor>();
        long classes = -1;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int batchCount = (count + o.BatchSize - 1) / o.BatchSize;
        for (int start = 0; start < count; start += o.BatchSize)
        {
            int n = Math.Min(o.BatchSize, count - start);
            using var scope = torch.NewDisposeScope();
            var x = new TorchSharp.Modules.Parameter(torch.randn(new long[] { n }.Concat(dims).ToArray()), requires_grad: true);
            // Adam: LeanAdamW without weight decay computes TorchSharp's Adam step operation for operation (the same bits),
            // without the temporary Scalars TorchSharp's step makes (KeptScalar).
            using var optimizer = new LeanAdamW(new[] { x }, o.LearningRate, beta1: 0.5, beta2: 0.9, weightDecay: 0);
            Tensor? targets = null;
            for (int step = 0; step < o.Steps; step++)
            {
                using var stepScope = torch.NewDisposeScope();
                optimizer.ZeroGrad();
                Tensor shifted = x;
                if (image && o.Jitter > 0)
                {
                    long dy = jitter.Next(-o.Jitter, o.Jitter + 1), dx = jitter.Next(-o.Jitter, o.Jitter + 1);
                    shifted = x.roll(new[] { dy, dx }, new long[] { 2, 3 });
                }
                var values = module.Run(new Dictionary<string, Tensor> { [module.InputNames[0]] = shifted }, fetch);
                var logits = values[output].reshape(n, -1);
                if (targets is null)
                {
                    classes = logits.shape[1];
                    targets = Kept.Arange(start, start + n, ScalarType.Int64).remainder(Kept.Of(classes)).MoveToOuterDisposeScope();
                }
                var loss = nn.functional.cross_entropy(logits, targets);
                var bn = torch.tensor(0f);
                foreach (var (name, mean, variance) in layers)
                {
                    var a = values[name];
                    var axes = Enumerable.Range(0, (int)a.dim()).Where(i => i != 1).Select(i => (long)i).ToArray();
                    bn = bn.add(a.mean(axes).sub(mean).norm(), Kept.One).add(a.var(axes, false).sub(variance).norm(), Kept.One);
                }
                loss = loss.add(bn.mul(Kept.Of(o.BatchNormWeight)), Kept.One).add(x.pow(Kept.Of(2)).mean().mul(Kept.Of(o.L2Weight)), Kept.One);
                if (image) loss = loss.add(TotalVariation(x).mul(Kept.Of(o.TotalVariationWeight)), Kept.One);
                loss.backward();
                optimizer.Step();
            }
            batches.Add(x.detach().clone().MoveToOuterDisposeScope());
            targets?.Dispose();
            if (progress is not null)
            {
                double elapsed = clock.Elapsed.TotalSeconds, eta = elapsed / batches.Count * (batchCount - batches.Count);
                progress(System.FormattableString.Invariant(
                    $"synthetic: DeepInversion batch {batches.Count}/{batchCount} ({start + n}/{count} inputs, {o.Steps} steps each), {elapsed:F1}s, ETA {eta:F0}s"));
            }
        }
        var all = torch.cat(batches, 0);
        foreach (var b in batches) b.Dispose();
        return all;
    }

    /// <summary>Mean absolute difference between vertically and horizontally neighbouring pixels.</summary>
    static Tensor TotalVariation(Tensor x)
    {
        long h = x.shape[2], w = x.shape[3];
        var dy = x.slice(2, 1, h, 1).sub(x.slice(2, 0, h - 1, 1)).abs().mean();
        var dx = x.slice(3, 1, w, 1).sub(x.slice(3, 0, w - 1, 1)).abs().mean();
        return dy.add(dx, Kept.One);
    }
}
