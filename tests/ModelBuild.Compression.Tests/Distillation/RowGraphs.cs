using Onnx;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>Nodes and [N, width] graph inputs/outputs for the small hand-built graphs of the distillation tests.</summary>
internal static class RowGraphs
{
    public static NodeProto Node(string op, string[] inputs, string output, params (string Name, long Value)[] ints)
    {
        var node = new NodeProto { OpType = op, Name = output + "_node" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        foreach (var (name, value) in ints) node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });
        return node;
    }

    /// <summary>A [N, width] tensor with a symbolic row count.</summary>
    public static ValueInfoProto Value(string name, long width, TensorProto.Types.DataType type = TensorProto.Types.DataType.Float)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }
}
