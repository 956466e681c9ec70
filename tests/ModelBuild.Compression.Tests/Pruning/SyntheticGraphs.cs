using ModelBuild.Onnx;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>Small ONNX graphs built in code for operator patterns the shared models lack (depthwise conv, BatchNorm, Concat, residual Add).</summary>
internal sealed class SyntheticGraphs
{
    private readonly ModelProto _model = new() { IrVersion = 8, ProducerName = "ModelBuild.Tests" };
    private readonly Random _random = new(1234);

    private SyntheticGraphs(long opset)
    {
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        _model.Graph = new GraphProto { Name = "synthetic" };
    }

    private GraphProto Graph => _model.Graph;

    private void Input(string name, params long[] dims) => Graph.Input.Add(ValueInfo(name, dims));

    private void Output(string name) => Graph.Output.Add(new ValueInfoProto
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
    });

    private static ValueInfoProto ValueInfo(string name, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    private string Weight(string name, params long[] dims)
    {
        long n = dims.Aggregate(1L, (a, b) => a * b);
        var values = Enumerable.Range(0, (int)n).Select(_ => (float)(_random.NextDouble() * 2 - 1) * 0.5f).ToArray();
        Graph.Initializer.Add(TensorData.Create(name, values, dims));
        return name;
    }

    private string Positive(string name, long count)
    {
        Graph.Initializer.Add(TensorData.Create(name, Enumerable.Range(0, (int)count).Select(_ => (float)(0.5 + _random.NextDouble())).ToArray(), count));
        return name;
    }

    private string Node(string op, string name, string[] inputs, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(name + "_out");
        foreach (var (attrName, value) in attributes)
        {
            var a = new AttributeProto { Name = attrName };
            switch (value)
            {
                case long i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
                case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
                case long[] ints: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ints); break;
            }
            node.Attribute.Add(a);
        }
        Graph.Node.Add(node);
        return node.Output[0];
    }

    private string BatchNorm(string name, string x, long c) =>
        Node("BatchNormalization", name, new[] { x, Positive(name + ".scale", c), Weight(name + ".bias", c), Weight(name + ".mean", c), Positive(name + ".var", c) });

    /// <summary>
    /// conv(3->8)+BN+Relu = t1; depthwise(8)+BN+Relu -> conv(8->8) = t3; t4 = t3 + t1 (residual); concat(t4, conv(t1, 8->4));
    /// conv(12->6) -> GlobalAveragePool -> Flatten -> Gemm(6->5).
    /// </summary>
    public static OnnxModel ResidualDepthwiseConcat()
    {
        var b = new SyntheticGraphs(13);
        b.Input("x", 2, 3, 8, 8);
        var pad1 = ("pads", (object)new long[] { 1, 1, 1, 1 });
        string a = b.Node("Conv", "convA", new[] { "x", b.Weight("convA.w", 8, 3, 3, 3) }, pad1);
        string t1 = b.Node("Relu", "reluA", new[] { b.BatchNorm("bnA", a, 8) });
        string dw = b.Node("Conv", "dw", new[] { t1, b.Weight("dw.w", 8, 1, 3, 3), b.Weight("dw.b", 8) }, pad1, ("group", 8L));
        string t2 = b.Node("Relu", "reluDw", new[] { b.BatchNorm("bnDw", dw, 8) });
        string t3 = b.Node("Conv", "convB", new[] { t2, b.Weight("convB.w", 8, 8, 1, 1), b.Weight("convB.b", 8) });
        string t4 = b.Node("Add", "residual", new[] { t3, t1 });
        string c = b.Node("Conv", "convC", new[] { t1, b.Weight("convC.w", 4, 8, 1, 1), b.Weight("convC.b", 4) });
        string cat = b.Node("Concat", "concat", new[] { t4, c }, ("axis", 1L));
        string d = b.Node("Relu", "reluD", new[] { b.Node("Conv", "convD", new[] { cat, b.Weight("convD.w", 6, 12, 3, 3), b.Weight("convD.b", 6) }, pad1) });
        string flat = b.Node("Flatten", "flatten", new[] { b.Node("GlobalAveragePool", "gap", new[] { d }) });
        string y = b.Node("Gemm", "fc", new[] { flat, b.Weight("fc.w", 5, 6), b.Weight("fc.b", 5) }, ("transB", 1L));
        b.Output(y);
        return new OnnxModel(b._model);
    }

    /// <summary>x[4] -> Gemm(16) -> Softmax over the 16 features -> Gemm(8) -> Relu -> Gemm(3): the first hidden layer cannot be pruned.</summary>
    public static OnnxModel MlpWithSoftmaxOverHiddenUnits()
    {
        var b = new SyntheticGraphs(13);
        b.Input("x", 2, 4);
        string h1 = b.Node("Softmax", "attention_like", new[] { b.Node("Gemm", "fc1", new[] { "x", b.Weight("fc1.w", 16, 4), b.Weight("fc1.b", 16) }, ("transB", 1L)) }, ("axis", 1L));
        string h2 = b.Node("Relu", "relu2", new[] { b.Node("Gemm", "fc2", new[] { h1, b.Weight("fc2.w", 8, 16), b.Weight("fc2.b", 8) }, ("transB", 1L)) });
        b.Output(b.Node("Gemm", "fc3", new[] { h2, b.Weight("fc3.w", 3, 8), b.Weight("fc3.b", 3) }, ("transB", 1L)));
        return new OnnxModel(b._model);
    }
}
