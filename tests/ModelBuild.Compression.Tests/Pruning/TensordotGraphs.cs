using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>
/// Graphs whose MatMuls are written as keras2onnx writes TensorFlow's Tensordot: the Reshape targets are computed at run
/// time, <c>Cast(Concat(Unsqueeze(ReduceProd(Gather(Cast(Shape(x)), free))), Unsqueeze(ReduceProd(Gather(.., axes)))))</c>
/// to merge the leading dims and <c>Cast(Concat(Gather(.., free), [units]))</c> to split them again, with every input dim
/// after the first dynamic too (a dynamic sequence, or H and W), which bert-squad-keras2onnx-tiny's fixed length lacks.
/// </summary>
internal sealed class TensordotGraphs
{
    readonly GraphProto _graph = new() { Name = "tensordot" };
    readonly Random _random = new(4321);
    int _id;

    /// <summary>
    /// x [batch, seq, 8] -> Tensordot(8 -> 16) -> split into 4 heads of 4 ([batch, seq, 4, 4], the target
    /// <c>Concat(Shape[:2], [4, 4])</c>) -> Relu -> merged back ([batch, seq, 16]) -> Tensordot(16 -> 8) -> y [batch, seq, 8].
    /// </summary>
    public static ModelProto FeedForward()
    {
        var g = new TensordotGraphs();
        g.Input("x", "batch", "seq", 8);
        var heads = g.Node("Relu", [g.KeepLeading(g.Tensordot("x", 3, 8, 16, reluBeforeSplit: false), 4, 4)]);
        g.Output(g.Tensordot(g.KeepLeading(heads, 16), 3, 16, 8, reluBeforeSplit: false), "y");
        return g.Model();
    }

    /// <summary>Reshape x [batch, seq, ...] to [batch, seq, trailing...], batch and seq read from x's shape at run time.</summary>
    string KeepLeading(string x, params long[] trailing)
    {
        var leading = Node("Gather", [Node("Cast", [Node("Shape", [x])], ("to", (long)TensorProto.Types.DataType.Int32)), Int64s(0, 1)], ("axis", 0L));
        var rest = Node("Cast", [Int64s(trailing)], ("to", (long)TensorProto.Types.DataType.Int32));
        return Node("Reshape", [x, Node("Cast", [Node("Concat", [leading, rest], ("axis", 0L))], ("to", (long)TensorProto.Types.DataType.Int64))]);
    }

    /// <summary>
    /// x [N, 4, H, W] -> Transpose to [N, H, W, 4] -> merge to [N*H*W, 4] -> MatMul(4 -> 8) -> Relu -> split to [N, H, W, 8]
    /// -> Transpose -> Conv(8 -> 3, 1x1): the Relu between the MatMul and the split leaves the split with three dynamic
    /// entries that no constant target expresses, and the 8 hidden channels pass through it.
    /// </summary>
    public static ModelProto ConvWithUnfoldableSplit()
    {
        var g = new TensordotGraphs();
        g.Input("x", "N", 4, "H", "W");
        var channelsLast = g.Node("Transpose", ["x"], ("perm", new long[] { 0, 2, 3, 1 }));
        var hidden = g.Tensordot(channelsLast, 4, 4, 8, reluBeforeSplit: true);
        var channelsFirst = g.Node("Transpose", [hidden], ("perm", new long[] { 0, 3, 1, 2 }));
        g.Output(g.Node("Conv", [channelsFirst, g.Weight(3, 8, 1, 1), g.Weight(3)]), "y");
        return g.Model();
    }

    /// <summary>x [N, 3, H, W] -> Conv(3 -> 4, 1x1) -> y: the only channels are the model's output, nothing can narrow.</summary>
    public static ModelProto ConvToOutput()
    {
        var g = new TensordotGraphs();
        g.Input("x", "N", 3, "H", "W");
        g.Output(g.Node("Conv", ["x", g.Weight(4, 3, 1, 1), g.Weight(4)]), "y");
        return g.Model();
    }

    string Tensordot(string x, int rank, long inFeatures, long outFeatures, bool reluBeforeSplit)
    {
        var shape = Node("Cast", [Node("Shape", [x])], ("to", (long)TensorProto.Types.DataType.Int32));
        var free = Node("Gather", [shape, Int64s(Enumerable.Range(0, rank - 1).Select(i => (long)i).ToArray())], ("axis", 0L));
        var axes = Node("Gather", [shape, Int64s(rank - 1)], ("axis", 0L));
        var rows = Node("Unsqueeze", [Node("ReduceProd", [free], ("axes", new long[] { 0 }), ("keepdims", 0L))], ("axes", new long[] { 0 }));
        var columns = Node("Unsqueeze", [Node("ReduceProd", [axes], ("axes", new long[] { 0 }), ("keepdims", 0L))], ("axes", new long[] { 0 }));
        var mergeTarget = Node("Cast", [Node("Concat", [rows, columns], ("axis", 0L))], ("to", (long)TensorProto.Types.DataType.Int64));
        var merged = Node("Reshape", [x, mergeTarget]);
        var product = Node("MatMul", [merged, Weight(inFeatures, outFeatures)]);
        if (reluBeforeSplit) product = Node("Relu", [product]);
        var units = Node("Cast", [Int64s(outFeatures)], ("to", (long)TensorProto.Types.DataType.Int32));
        var splitTarget = Node("Cast", [Node("Concat", [free, units], ("axis", 0L))], ("to", (long)TensorProto.Types.DataType.Int64));
        return Node("Add", [Node("Reshape", [product, splitTarget]), Weight(outFeatures)]);
    }

    ModelProto Model()
    {
        var model = new ModelProto { IrVersion = 6, ProducerName = "keras2onnx-like", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 11 });
        return model;
    }

    void Input(string name, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string p ? new TensorShapeProto.Types.Dimension { DimParam = p } : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        _graph.Input.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } });
    }

    void Output(string tensor, string name)
    {
        _graph.Node.Add(new NodeProto { OpType = "Identity", Name = name + "_identity", Input = { tensor }, Output = { name } });
        _graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
    }

    string Weight(params long[] dims)
    {
        var values = Enumerable.Range(0, (int)dims.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)(_random.NextDouble() - 0.5)).ToArray();
        var name = $"w{_id++}";
        _graph.Initializer.Add(TensorData.Create(name, values, dims));
        return name;
    }

    string Int64s(params long[] values)
    {
        var name = $"c{_id++}";
        _graph.Initializer.Add(TensorData.Create(name, values, values.Length));
        return name;
    }

    string Node(string op, string[] inputs, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = $"{op}_{_id++}" };
        node.Input.AddRange(inputs);
        node.Output.Add(node.Name + ":0");
        foreach (var (name, value) in attributes)
        {
            node.Attribute.Add(value switch
            {
                long i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
                long[] ints => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { ints } },
                _ => throw new ArgumentException(name),
            });
        }
        _graph.Node.Add(node);
        return node.Output[0];
    }
}
