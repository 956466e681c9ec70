using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// fp16 inside <c>If</c>/<c>Loop</c>/<c>Scan</c> bodies. The main graph computes in float16 between its two Casts, so
/// a body receives float16 values from the enclosing scope and must hand float16 back: its weights, Constants and
/// Casts to float become float16 and its float inputs/outputs are declared float16 (no Casts inside, which would make
/// the file larger). Before this, bodies kept float32 weights behind Casts and fp16 wrote a larger file than its input.
/// </summary>
internal static class Fp16Subgraphs
{
    static readonly int Float = (int)TensorProto.Types.DataType.Float;
    static readonly int Float16 = (int)TensorProto.Types.DataType.Float16;

    /// <summary>Converts every body of <paramref name="graph"/>'s nodes (nested ones too); returns the converted initializers' names.</summary>
    public static List<string> Convert(GraphProto graph, Func<TensorProto, TensorProto> toHalf)
    {
        var converted = new List<string>();
        foreach (var body in GraphTraversal.AllGraphs(graph).Skip(1)) ConvertBody(body, toHalf, converted);
        return converted;
    }

    static void ConvertBody(GraphProto body, Func<TensorProto, TensorProto> toHalf, List<string> converted)
    {
        // As in the main graph (Fp16Converter): Resize/Upsample scales and roi must stay float32.
        var keepFloat = body.Node.Where(n => n.OpType is "Resize" or "Upsample").SelectMany(n => n.Input.Skip(1)).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < body.Initializer.Count; i++)
        {
            if (body.Initializer[i].DataType != Float || keepFloat.Contains(body.Initializer[i].Name)) continue;
            converted.Add(body.Initializer[i].Name);
            body.Initializer[i] = toHalf(body.Initializer[i]);
        }
        foreach (var node in body.Node)
            foreach (var a in node.Attribute)
            {
                if (a.T is { } t && t.DataType == Float && !(node.OpType == "Constant" && node.Output.Any(keepFloat.Contains))) a.T = toHalf(t);
                if (node.OpType == "Cast" && a.Name == "to" && a.I == Float) a.I = Float16;
            }
        foreach (var value in body.Input.Concat(body.Output))
            if (value.Type?.TensorType is { } tensor && tensor.ElemType == Float) tensor.ElemType = Float16;
        body.ValueInfo.Clear();
    }

    /// <summary>Points reads of the enclosing scope's <paramref name="from"/> inside bodies at <paramref name="to"/>, unless a body defines its own.</summary>
    public static void RenameOuterReads(GraphProto graph, string from, string to)
    {
        foreach (var body in GraphTraversal.Bodies(graph))
        {
            if (body.Input.Any(i => i.Name == from) || body.Initializer.Any(t => t.Name == from) || body.Node.Any(n => n.Output.Contains(from))) continue;
            foreach (var node in body.Node)
                for (var i = 0; i < node.Input.Count; i++)
                    if (node.Input[i] == from) node.Input[i] = to;
            foreach (var output in body.Output.Where(o => o.Name == from))
            {
                // A body that passes the outer value straight through: outputs are positional, so it gets a name of its own.
                output.Name = to + "_" + body.Name + "_passthrough";
                body.Node.Add(OnnxModelAccess.Node("Identity", output.Name, [to], [output.Name]));
            }
            RenameOuterReads(body, from, to);
        }
    }
}
