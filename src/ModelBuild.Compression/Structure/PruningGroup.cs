namespace ModelBuild.Compression.Structure;

/// <summary>What kind of unit a group removes; used in reports and by <see cref="Pruning.PruningOptions.Kinds"/>.</summary>
public enum PruningUnitKind
{
    /// <summary>Output features of a Gemm/MatMul and everything coupled to them (an MLP's hidden neurons, a transformer's FFN neurons).</summary>
    Neurons,
    /// <summary>Convolution output channels.</summary>
    Channels,
    /// <summary>Attention heads: blocks of head_dim features carried through Reshape constants that hold the head count.</summary>
    Heads,
    /// <summary>A residual stream width (transformer hidden size): embeddings, LayerNorms and every projection reading it.</summary>
    HiddenSize,
}

/// <summary>
/// A set of coupled dimensions that must shrink together (DepGraph's "group"): every tensor span carrying
/// the same units, every initializer sliced with them, and every shape constant or attribute that records
/// their count. Built on the original graph; <see cref="Pruning.StructuredPruner"/> removes the same unit indices
/// from all members at once.
/// </summary>
public sealed class PruningGroup
{
    internal PruningGroup(string name, ChannelSpan root, int units)
    {
        Name = name;
        Root = root;
        Units = units;
    }

    /// <summary>The name of the layer whose output seeded the group (its first producer).</summary>
    public string Name { get; }

    /// <summary>The seed: the output of the producing layer.</summary>
    public ChannelSpan Root { get; }

    /// <summary>Number of prunable units in the group.</summary>
    public int Units { get; }

    public PruningUnitKind Kind { get; internal set; }

    public List<ChannelSpan> Spans { get; } = new();
    public List<ParameterSlice> Parameters { get; } = new();
    public List<ShapeConstantEdit> ShapeEdits { get; } = new();
    public List<ConvGroupEdit> ConvGroupEdits { get; } = new();

    /// <summary>Nodes whose weights this group touches (for <c>--prune-exclude</c> and reports).</summary>
    public IEnumerable<string> Nodes => Parameters.Select(p => p.Node).Concat(ShapeEdits.Select(e => e.Node))
        .Concat(ConvGroupEdits.Select(e => e.Node)).Distinct();

    /// <summary>Why the group cannot be rewritten, or null when it can.</summary>
    public string? NotPrunableReason { get; internal set; }

    public bool IsPrunable => NotPrunableReason is null;

    public override string ToString() => $"{Name} ({Kind}, {Units} units{(IsPrunable ? "" : ", not prunable: " + NotPrunableReason)})";
}
