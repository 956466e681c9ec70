using ModelBuild.Compression.Structure;
using Onnx;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// Scales a graph's widths with the pruning engine's dependency groups (<see cref="DependencyGraph"/>), so every
/// coupled dimension shrinks together: a Conv's output channels with the next Conv/Gemm/MatMul's input (per
/// channel x H x W after a Flatten), BatchNorm parameters and biases; a transformer's hidden size with the
/// embedding and position tables, every LayerNorm and every projection reading the residual stream; attention heads
/// in whole heads (head_dim kept, the Reshape constants' head count edited); FFN neurons. Each group keeps
/// <c>max(1, round(f * units))</c> units, its first ones: the student is freshly initialized, so which units stay
/// does not matter, only the shapes do. Groups that reach a model input or output keep their width.
/// </summary>
internal static class CoupledWidthScaler
{
    /// <summary>Rewrites <paramref name="model"/> in place; returns one line per scaled group.</summary>
    public static List<string> Apply(ModelProto model, double width, double ffnWidth, IReadOnlyDictionary<string, long[]> shapes)
    {
        var groups = DependencyGraph.Build(model, shapes);
        var plan = new List<(PruningGroup Group, IReadOnlyCollection<int> RemovedUnits)>();
        var lines = new List<string>();
        foreach (var group in groups.Groups.Where(g => g.IsPrunable && g.Units >= 2))
        {
            double f = group.Kind == PruningUnitKind.Neurons ? ffnWidth : width;
            int keep = Math.Max(1, (int)Math.Round(f * group.Units, MidpointRounding.AwayFromZero));
            if (keep >= group.Units) continue;
            plan.Add((group, Enumerable.Range(keep, group.Units - keep).ToArray()));
            lines.Add($"{group.Name}: {group.Kind} {group.Units} -> {keep}{(group.Root.UnitSize > 1 ? $" (unit {group.Root.UnitSize})" : "")}");
        }
        if (plan.Count > 0) GroupRewriter.Apply(model, plan);
        return lines;
    }
}
