using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Graph;

namespace ModelBuild.Compression.Pruning;

/// <summary>Options for <see cref="DepthPruner"/>.</summary>
public sealed class DepthPruningOptions
{
    /// <summary>How many layers (or residual blocks) to drop.</summary>
    public int LayersToRemove { get; init; } = 1;

    /// <summary>Inputs used to rank layers by block influence, shaped [samples, ...input dims].</summary>
    public DataTensor? CalibrationData { get; init; }

    public int CalibrationSamples { get; init; } = 128;

    /// <summary>Layers never dropped: residual Add node names; a trailing <c>*</c> matches a prefix.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = Array.Empty<string>();
}

/// <summary>A layer and its block influence: 1 - mean cosine similarity of its input and output (low = the layer changes little).</summary>
public sealed record LayerImportance(string Name, int Nodes, double Influence, bool Removed);

/// <summary>The outcome of one depth pruning pass: the layers by influence, and which were dropped.</summary>
public sealed class DepthPruningResult : PruningPassResult
{
    public required IReadOnlyList<LayerImportance> Layers { get; init; }
    public override bool Changed => Layers.Any(l => l.Removed);
}

/// <summary>
/// Depth pruning: drops whole transformer layers or residual blocks, least influential first (ShortGPT's
/// block influence, 1 - cos(input, output), on calibration data in ONNX Runtime). The dropped layer's output
/// is replaced by its input, so the residual stream passes straight through; the model keeps its operators.
/// </summary>
public static class DepthPruner
{
    public static DepthPruningResult Prune(OnnxModel model, DepthPruningOptions options)
    {
        string display = model.DisplayName;
        var working = model.Clone();
        var proto = working.Proto;
        GraphNormalizer.Normalize(proto);
        working.InvalidateGraph();
        var layers = ResidualBlockFinder.FindLayers(proto);
        var shapes = TensorShapeProbe.Run(proto);
        long paramsBefore = working.ParameterCount, flopsBefore = ModelCost.Flops(proto, shapes);
        if (layers.Count == 0 || options.LayersToRemove < 1 || options.LayersToRemove >= layers.Count)
        {
            if (layers.Count > 0 && (options.LayersToRemove < 1 || options.LayersToRemove >= layers.Count))
            {
                throw PruningErrors.Schedule($"{options.LayersToRemove} layers to remove out of {layers.Count} (at least one must stay)", display);
            }
            var unchanged = new DepthPruningResult
            {
                Model = model.Clone(), ParametersBefore = paramsBefore, ParametersAfter = paramsBefore,
                FlopsBefore = flopsBefore, FlopsAfter = flopsBefore, Layers = Array.Empty<LayerImportance>(),
            };
            unchanged.Warnings.Add(PruningErrors.NothingToDropWarning(display));
            return unchanged;
        }
        var data = options.CalibrationData ?? throw PruningErrors.NeedsData("block-influence (depth pruning)", display);
        double[] influence = BlockInfluence(proto, layers, data, options.CalibrationSamples);
        var protectedLayers = options.Exclude.Count == 0
            ? new HashSet<int>()
            : Enumerable.Range(0, layers.Count).Where(i => options.Exclude.Any(p => Matches(p, layers[i].Name))).ToHashSet();
        var remove = Enumerable.Range(0, layers.Count).Where(i => !protectedLayers.Contains(i))
            .OrderBy(i => influence[i]).ThenBy(i => i).Take(options.LayersToRemove).ToHashSet();

        var graph = new OnnxGraph(proto.Graph);
        var outputs = proto.Graph.Output.Select(o => o.Name).ToHashSet();
        // Later layers first, so each replacement targets a tensor that still exists.
        foreach (int i in remove.OrderByDescending(i => i))
        {
            var layer = layers[i];
            if (outputs.Contains(layer.Output))
            {
                graph.AddNode("Identity", new[] { layer.Input }, new[] { layer.Output });
                foreach (var n in layer.Nodes)
                {
                    n.Output.Remove(layer.Output);
                }
            }
            else
            {
                graph.ReplaceAllUses(layer.Output, layer.Input);
            }
            graph.Invalidate();
        }
        var before = proto.Graph.Initializer.Select(t => t.Name).ToHashSet();
        graph.RemoveUnusedNodesAndInitializers();
        before.ExceptWith(proto.Graph.Initializer.Select(t => t.Name));
        GraphNormalizer.SyncInitializerInputs(proto, before);
        proto.Graph.ValueInfo.Clear();
        working.InvalidateGraph();
        var after = TensorShapeProbe.Run(proto);
        return new DepthPruningResult
        {
            Model = working,
            ParametersBefore = paramsBefore,
            ParametersAfter = working.ParameterCount,
            FlopsBefore = flopsBefore,
            FlopsAfter = ModelCost.Flops(proto, after),
            Layers = layers.Select((l, i) => new LayerImportance(l.Name, l.Nodes.Count, influence[i], remove.Contains(i))).ToList(),
        };
    }

    private static bool Matches(string pattern, string name) =>
        pattern.EndsWith('*') ? name.StartsWith(pattern[..^1], StringComparison.Ordinal) : name == pattern;

    /// <summary>1 - mean over samples and positions of cos(layer input, layer output) along the last axis.</summary>
    internal static double[] BlockInfluence(global::Onnx.ModelProto proto, IReadOnlyList<ResidualBlock> layers, DataTensor data, int maxSamples)
    {
        var tensors = layers.SelectMany(l => new[] { l.Input, l.Output }).Distinct().ToList();
        var sums = new double[layers.Count];
        long[] counts = new long[layers.Count];
        using var runner = ModelRunner.Tapping(proto, tensors);
        var bound = runner.Bind(InputSet.Of(data), "calibration data");
        int samples = Math.Min(data.Count, maxSamples);
        int batch = runner.BatchSize(64);
        for (int start = 0; start < samples; start += batch)
        {
            int count = Math.Min(batch, samples - start);
            var captured = runner.RunTensors(bound, start, count).Where(t => t.Floats is not null)
                .ToDictionary(t => t.Name, t => (t.Shape, Values: t.Floats!));
            for (int i = 0; i < layers.Count; i++)
            {
                var (shape, x) = captured[layers[i].Input];
                var (_, y) = captured[layers[i].Output];
                // Per token for sequences, per sample for feature maps.
                int width = (int)(shape.Length == 4 ? shape[1] * shape[2] * shape[3] : shape[^1]);
                for (int v = 0; v + width <= x.Length; v += width)
                {
                    double dot = 0, nx = 0, ny = 0;
                    for (int k = 0; k < width; k++)
                    {
                        dot += (double)x[v + k] * y[v + k];
                        nx += (double)x[v + k] * x[v + k];
                        ny += (double)y[v + k] * y[v + k];
                    }
                    sums[i] += nx > 0 && ny > 0 ? dot / Math.Sqrt(nx * ny) : 1;
                    counts[i]++;
                }
            }
        }
        return sums.Select((s, i) => 1 - s / Math.Max(1, counts[i])).ToArray();
    }
}
