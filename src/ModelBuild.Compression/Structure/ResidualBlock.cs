using Onnx;

namespace ModelBuild.Compression.Structure;

/// <summary>
/// A removable stretch of the graph: <c>Output = Input + f(Input)</c> for one or more chained residual
/// branches (a transformer layer is an attention block followed by an FFN block). Dropping it wires every
/// reader of <see cref="Output"/> to <see cref="Input"/>; the branch nodes then have no readers and go.
/// </summary>
public sealed class ResidualBlock
{
    internal ResidualBlock(string name, string input, string output, IReadOnlyList<NodeProto> nodes, bool hasAttention)
    {
        Name = name;
        Input = input;
        Output = output;
        Nodes = nodes;
        HasAttention = hasAttention;
    }

    /// <summary>The residual Add's node name (the last one, for a multi-block layer).</summary>
    public string Name { get; }

    public string Input { get; }

    public string Output { get; }

    public IReadOnlyList<NodeProto> Nodes { get; }

    /// <summary>True when the branch contains a Softmax (an attention block).</summary>
    public bool HasAttention { get; }

    public override string ToString() => $"{Name} ({Input} -> {Output}, {Nodes.Count} nodes)";
}
