using ModelBuild.Compression.Data;
using ModelBuild.Compression.Structure;

namespace ModelBuild.Compression.Pruning;

/// <summary>What <see cref="StructuredPruner"/> removes and how it ranks units.</summary>
public sealed class PruningOptions
{
    /// <summary>Fraction of each group's units to remove, strictly between 0 and 1 (<c>--prune</c>).</summary>
    public double Fraction { get; init; } = 0.5;

    public ImportanceCriterion Criterion { get; init; } = ImportanceCriterion.L2;

    /// <summary>A criterion object to use instead of <see cref="Criterion"/> (e.g. Taylor with its trainer).</summary>
    public IImportanceCriterion? CustomCriterion { get; init; }

    /// <summary>Kinds of groups to prune. Hidden size is off by default: it touches every layer of a transformer.</summary>
    public IReadOnlySet<PruningUnitKind> Kinds { get; init; } =
        new HashSet<PruningUnitKind> { PruningUnitKind.Neurons, PruningUnitKind.Channels, PruningUnitKind.Heads };

    /// <summary>
    /// Protected layers (<c>--prune-exclude</c>): node or initializer names; a trailing <c>*</c> matches a prefix.
    /// A group touching any of them is left as is.
    /// </summary>
    public IReadOnlyList<string> Exclude { get; init; } = Array.Empty<string>();

    /// <summary>
    /// Rank units across all groups together (scores normalized per group) instead of removing the same
    /// fraction from every group. Each group keeps at least one unit either way.
    /// </summary>
    public bool GlobalRanking { get; init; }

    /// <summary>Inputs for the activation (and Taylor) criteria, shaped [samples, ...input dims].</summary>
    public DataTensor? CalibrationData { get; init; }

    /// <summary>Labels for the Taylor criterion's loss; without them the model's own predictions are the targets.</summary>
    public DataTensor? CalibrationLabels { get; init; }

    public int CalibrationSamples { get; init; } = 256;

    /// <summary>
    /// Units to keep per group (by group name), overriding <see cref="Fraction"/> for those groups. The schedule
    /// uses it so that step k keeps exactly round(original x (1 - k/S x fraction)) units of each group.
    /// </summary>
    public IReadOnlyDictionary<string, int>? KeepUnits { get; init; }
}
