using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Structure;
using Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Mean |activation| of each unit on calibration data, measured in ONNX Runtime with the group's tensors added
/// as outputs, averaged over samples and every non-unit position (tokens, pixels), normalized per tensor and
/// summed over the group's tensors. A unit that is near zero wherever the group carries it contributes little.
/// </summary>
public sealed class ActivationImportance : IImportanceCriterion
{
    private readonly DataTensor _data;
    private readonly int _samples;

    public ActivationImportance(DataTensor calibration, int maxSamples = 256)
    {
        _data = calibration;
        _samples = Math.Min(calibration.Count, maxSamples);
    }

    public string Name => "activation";

    public IReadOnlyList<double[]> Score(ModelProto model, IReadOnlyList<PruningGroup> groups)
    {
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        var spans = groups.SelectMany((g, i) => g.Spans.Where(s => !initializers.Contains(s.Tensor)).Select(s => (Group: i, Span: s))).ToList();
        var sums = spans.ToDictionary(s => s, s => new double[groups[s.Group].Units]);
        var byTensor = spans.ToLookup(s => s.Span.Tensor);
        using var runner = ModelRunner.Tapping(model, spans.Select(s => s.Span.Tensor).Distinct());
        var bound = runner.Bind(InputSet.Of(_data), "calibration data");
        int batch = runner.BatchSize(64);
        for (int start = 0; start < _samples; start += batch)
        {
            int count = Math.Min(batch, _samples - start);
            foreach (var (name, shape, values) in runner.RunTensors(bound, start, count))
            {
                if (values is null)
                {
                    continue;
                }
                foreach (var s in byTensor[name])
                {
                    var per = UnitScores.Reduce(values, shape, s.Span.Axis, s.Span.UnitSize, s.Span.Offset, groups[s.Group].Units, v => Math.Abs(v));
                    var acc = sums[s];
                    for (int u = 0; u < acc.Length; u++)
                    {
                        acc[u] += per[u];
                    }
                }
            }
        }
        var scores = groups.Select(g => new double[g.Units]).ToList();
        foreach (var (key, acc) in sums)
        {
            UnitScores.AddNormalized(scores[key.Group], acc);
        }
        return scores;
    }
}
