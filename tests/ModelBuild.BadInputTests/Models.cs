using ModelBuild.Onnx.Tensors;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.BadInputTests;

/// <summary>The campaign's small models, built in code so a case costs milliseconds: a 13-8-3 MLP and a token-id embedding.</summary>
internal static class Models
{
    public static ModelProto Mlp()
    {
        var m = New();
        m.Graph.Input.Add(Tensor("x", DataType.Float, -1, 13));
        m.Graph.Output.Add(Tensor("y", DataType.Float, -1, 3));
        m.Graph.Node.Add(Node("Gemm", ["x", Weight(m, "w1", 8, 13), Weight(m, "b1", 8)], "h", ("transB", 1)));
        m.Graph.Node.Add(Node("Relu", ["h"], "r"));
        m.Graph.Node.Add(Node("Gemm", ["r", Weight(m, "w2", 3, 8), Weight(m, "b2", 3)], "y", ("transB", 1)));
        return m;
    }

    /// <summary>int64 ids [N,4] -> Gather from a 10-row table -> ReduceMean -> Gemm: ids of 10 or more are out of vocabulary.</summary>
    public static ModelProto Embedding()
    {
        var m = New();
        m.Graph.Input.Add(Tensor("ids", DataType.Int64, -1, 4));
        m.Graph.Output.Add(Tensor("y", DataType.Float, -1, 3));
        m.Graph.Node.Add(Node("Gather", [Weight(m, "table", 10, 6), "ids"], "e"));
        var mean = Node("ReduceMean", ["e"], "m", ("keepdims", 0));
        mean.Attribute.Add(new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1 } });
        m.Graph.Node.Add(mean);
        m.Graph.Node.Add(Node("Gemm", ["m", Weight(m, "w", 3, 6), Weight(m, "b", 3)], "y", ("transB", 1)));
        return m;
    }

    static ModelProto New()
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "ModelBuild.BadInputTests", Graph = new GraphProto { Name = "campaign" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    static ValueInfoProto Tensor(string name, DataType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    static NodeProto Node(string op, string[] inputs, string output, params (string Name, long Value)[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = op + "_" + output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        foreach (var (name, value) in attributes) node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });
        return node;
    }

    static string Weight(ModelProto model, string name, params long[] dims)
    {
        var random = new Random(name.Length * 31 + (int)dims[0]);
        var n = (int)dims.Aggregate(1L, (a, b) => a * b);
        model.Graph.Initializer.Add(TensorData.Create(name, Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray(), dims));
        return name;
    }
}

/// <summary>Paths into ../shared, found by walking up to ModelBuild.sln.</summary>
internal static class Shared
{
    static readonly string Root = FindRoot();
    public static string Wine(string file) => Path.Combine(Root, "..", "shared", "teachers", "wine-mlp", file);

    static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("ModelBuild.sln not found above " + AppContext.BaseDirectory);
    }
}
