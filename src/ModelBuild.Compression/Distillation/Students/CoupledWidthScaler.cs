using ModelBuild.Compression.Structure;
using Onnx;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// Scales a graph's widths with the pruning engine's dependency groups (<see cref="DependencyGraph"/>), so every
/// coupled dimension shrinks together: a Conv's output channels with the next Conv/Gemm/MatMul's input (per
/// channel x H x W after a Flatten), BatchNorm parameters and biases; a transformer's hidden size with the
/// embedding and position tables, every LayerNorm and every projection reading the residual stream; attention heads
/// in whole heads (head_dim kept, the Reshape constants' head count edited); FFN neurons. Each group keeps
/// <c>max(1, round(f * units))</c> units: the ones the pruning engine's importance (<see cref="MagnitudeImportance"/>,
/// L2 over every weight slice of the group, as <c>--prune</c> ranks by default) scores highest, ties by index, so a
/// student that starts from the teacher's weights keeps its most important heads, channels and neurons. Groups that
/// reach a model input or output keep their width.
/// </summary>
internal static class CoupledWidthScaler
{
    /// <summary>Rewrites <paramref name="model"/> in place; returns one line per scaled group.</summary>
    public static List<string> Apply(ModelProto model, double width, double ffnWidth, IReadOnlyDictionary<string, long[]> shapes)
    {
        var groups = DependencyGraph.Build(model, shapes);
        var plan = new List<(PruningGroup Group, IReadOnlyCollection<int> RemovedUnits)>();
        var lines = new List<string>();
        var candidates = groups.Groups.Where(g => g.IsPrunable && g.Units >= 2).ToList();
        var scores = new MagnitudeImportance(2).Score(model, candidates);
        for (int g = 0; g < candidates.Count; g++)
        {
            var group = candidates[g];
            double f = group.Kind == PruningUnitKind.Neurons ? ffnWidth : width;
            int keep = Math.Max(1, (int)Math.Round(f * group.Units, MidpointRounding.AwayFromZero));
            if (keep >= group.Units) continue;
            var removed = Enumerable.Range(0, group.Units).OrderBy(u => scores[g][u]).ThenBy(u => u).Take(group.Units - keep).Order().ToArray();
            plan.Add((group, removed));
            lines.Add($"{group.Name}: {group.Kind} {group.Units} -> {keep}{(group.Root.UnitSize > 1 ? $" (unit {group.Root.UnitSize})" : "")}");
        }
        if (plan.Count > 0) GroupRewriter.Apply(model, plan);
        return lines;
    }
}
