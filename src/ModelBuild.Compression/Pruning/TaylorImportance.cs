using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Structure;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// First-order Taylor importance (Molchanov et al.; Torch-Pruning's TaylorImportance): the graph is imported
/// into TorchSharp, the cross-entropy on calibration data (labels, or the model's own predictions without
/// them) is back-propagated, and each unit scores |sum over its weights of w * dL/dw|, the first-order
/// estimate of the loss change when the unit is removed, normalized per tensor and summed over the group.
/// </summary>
public sealed class TaylorImportance : IImportanceCriterion
{
    private readonly DataTensor _data;
    private readonly long[]? _labels;
    private readonly int _samples;

    public TaylorImportance(DataTensor calibration, DataTensor? labels = null, int maxSamples = 256)
    {
        _data = calibration;
        _labels = labels is null ? null : labels.Int64s ?? throw PruningErrors.Calibration($"the labels '{labels.Path}' hold floats; labels are integer class ids", null);
        _samples = Math.Min(calibration.Count, maxSamples);
    }

    public string Name => "Taylor";

    public IReadOnlyList<double[]> Score(global::Onnx.ModelProto model, IReadOnlyList<PruningGroup> groups)
    {
        Native.LibTorchLoader.EnsureLoaded();
        var proto = model.Clone();
        if (DynamicBatch.IsFixedBatchOne(proto))
        {
            DynamicBatch.Apply(proto);
        }
        using var module = OnnxGraphImporter.Import(proto, "pruning candidate");
        module.eval(); // dropout off: the gradient of the deployed function
        using (var scope = torch.NewDisposeScope())
        {
            for (int start = 0; start < _samples; start += 64)
            {
                int count = Math.Min(64, _samples - start);
                var x = DistillationData.ToInputTensor(new NamedTensor(null, _data).Slice(start, count));
                var logits = module.forward(x).reshape(count, -1);
                var target = _labels is { } y ? torch.tensor(y.AsSpan(start, count).ToArray()) : logits.argmax(1).detach();
                // Summed (not averaged) so every sample weighs the same whatever the batch split.
                var loss = nn.functional.cross_entropy(logits, target, reduction: nn.Reduction.Sum);
                loss.backward();
            }
        }
        var products = new Dictionary<string, (float[] Values, long[] Shape)>();
        foreach (var (name, p) in module.OnnxParameters)
        {
            if (p.grad is { } g)
            {
                using var prod = p.detach().mul(g).contiguous();
                products[name] = (prod.data<float>().ToArray(), p.shape);
            }
        }
        var scores = new List<double[]>();
        foreach (var group in groups)
        {
            var total = new double[group.Units];
            foreach (var slice in group.Parameters.Where(s => s.CountsForImportance || s.Role == ParameterRole.Bias))
            {
                if (!products.TryGetValue(slice.Initializer, out var wg))
                {
                    continue;
                }
                // Signed sum per unit, then |.|: the Taylor estimate of removing the whole unit.
                var signed = UnitScores.Reduce(wg.Values, wg.Shape, slice.Axis, slice.UnitSize, slice.Offset, group.Units, v => v);
                UnitScores.AddNormalized(total, signed.Select(Math.Abs).ToArray());
            }
            scores.Add(total);
        }
        return scores;
    }
}
