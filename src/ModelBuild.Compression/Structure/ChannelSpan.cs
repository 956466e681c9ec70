namespace ModelBuild.Compression.Structure;

/// <summary>
/// Where a pruning group's units live in one tensor: along <see cref="Axis"/>, unit <c>u</c> covers the
/// indices <c>[Offset + u * UnitSize, Offset + (u + 1) * UnitSize)</c>. A neuron is a unit of size 1; a
/// channel seen after a Flatten is a unit of size H*W; an attention head is a unit of size head_dim;
/// a Concat input sits at a non-zero offset of the Concat output.
/// </summary>
public readonly record struct ChannelSpan(string Tensor, int Axis, int UnitSize, int Offset)
{
    public override string ToString() => $"{Tensor}[axis {Axis}, unit {UnitSize}, offset {Offset}]";
}
