using Google.Protobuf;
using ModelBuild.Onnx.Tensors;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// Small ONNX models built in code for the error catalogue: the shapes real users bring (a student with its own output
/// names, a uint8 input, an embedding fed out-of-vocabulary ids, ZipMap/int32/bool outputs, a student with a uint16 Cast).
/// </summary>
internal static class TinyModels
{
    static readonly Random Random = new(20261203);

    public static ModelProto New(long opset = 13)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "ModelBuild.Cli.Tests", Graph = new GraphProto { Name = "tiny" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }

    public static ValueInfoProto Tensor(string name, DataType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    public static NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = op + "_" + outputs[0] };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static string Weight(ModelProto model, string name, params long[] dims)
    {
        var n = (int)dims.Aggregate(1L, (a, b) => a * b);
        model.Graph.Initializer.Add(TensorData.Create(name, Enumerable.Range(0, n).Select(_ => (float)(Random.NextDouble() - 0.5)).ToArray(), dims));
        return name;
    }

    public static string Save(ModelProto model, string path)
    {
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    public static ModelProto Load(string path) => ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));

    /// <summary>The model at <paramref name="path"/> with graph output <paramref name="index"/> renamed (and every use of it).</summary>
    public static ModelProto RenameOutput(string path, int index, string newName)
    {
        var model = Load(path);
        var old = model.Graph.Output[index].Name;
        foreach (var node in model.Graph.Node)
        {
            for (var i = 0; i < node.Output.Count; i++) if (node.Output[i] == old) node.Output[i] = newName;
            for (var i = 0; i < node.Input.Count; i++) if (node.Input[i] == old) node.Input[i] = newName;
        }
        model.Graph.Output[index].Name = newName;
        return model;
    }

    /// <summary>uint8 [N,13] -> Cast -> Gemm 13x8 -> Relu -> Gemm 8x3: wine-shaped, with an input type pruning cannot probe.</summary>
    public static ModelProto Uint8InputMlp()
    {
        var m = New();
        m.Graph.Input.Add(Tensor("x", DataType.Uint8, -1, 13));
        m.Graph.Output.Add(Tensor("y", DataType.Float, -1, 3));
        m.Graph.Node.Add(Node("Cast", ["x"], ["xf"], Int("to", (int)DataType.Float)));
        m.Graph.Node.Add(Node("Gemm", ["xf", Weight(m, "w1", 8, 13), Weight(m, "b1", 8)], ["h"], Int("transB", 1)));
        m.Graph.Node.Add(Node("Relu", ["h"], ["r"]));
        m.Graph.Node.Add(Node("Gemm", ["r", Weight(m, "w2", 3, 8), Weight(m, "b2", 3)], ["y"], Int("transB", 1)));
        return m;
    }

    /// <summary>int64 ids [N,4] -> Gather from a 10-row embedding -> mean -> Gemm: ids of 10 or more are out of vocabulary.</summary>
    public static ModelProto Embedding()
    {
        var m = New();
        m.Graph.Input.Add(Tensor("ids", DataType.Int64, -1, 4));
        m.Graph.Output.Add(Tensor("y", DataType.Float, -1, 3));
        m.Graph.Node.Add(Node("Gather", [Weight(m, "table", 10, 6), "ids"], ["e"]));
        m.Graph.Node.Add(Node("ReduceMean", ["e"], ["m"], Ints("axes", 1), Int("keepdims", 0)));
        m.Graph.Node.Add(Node("Gemm", ["m", Weight(m, "w", 3, 6), Weight(m, "b", 3)], ["y"], Int("transB", 1)));
        return m;
    }

    /// <summary>The wine teacher plus extra outputs: its logits as int32, "logit > 0" as bool.</summary>
    public static ModelProto WithIntAndBoolOutputs(string teacher)
    {
        var m = Load(teacher);
        var logits = m.Graph.Output[0].Name;
        m.Graph.Initializer.Add(TensorData.CreateScalar("zero", 0f));
        m.Graph.Node.Add(Node("Cast", [logits], ["logits_int32"], Int("to", (int)DataType.Int32)));
        m.Graph.Node.Add(Node("Greater", [logits, "zero"], ["positive"]));
        m.Graph.Output.Add(Tensor("logits_int32", DataType.Int32, -1, 3));
        m.Graph.Output.Add(Tensor("positive", DataType.Bool, -1, 3));
        return m;
    }

    /// <summary>The wine teacher plus a ZipMap of its logits (what skl2onnx writes by default): a sequence of maps.</summary>
    public static ModelProto WithZipMap(string teacher)
    {
        var m = Load(teacher);
        if (m.OpsetImport.All(o => o.Domain != "ai.onnx.ml")) m.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = 1 });
        var zip = Node("ZipMap", [m.Graph.Output[0].Name], ["probabilities"], Ints("classlabels_int64s", 0, 1, 2));
        zip.Domain = "ai.onnx.ml";
        m.Graph.Node.Add(zip);
        var map = new TypeProto { MapType = new TypeProto.Types.Map { KeyType = (int)DataType.Int64, ValueType = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float } } } };
        m.Graph.Output.Add(new ValueInfoProto { Name = "probabilities", Type = new TypeProto { SequenceType = new TypeProto.Types.Sequence { ElemType = map } } });
        return m;
    }

    /// <summary>A wine-shaped student that round-trips its input through uint16 (ONNX Runtime runs it; the importer maps no uint16).</summary>
    public static ModelProto Uint16CastStudent()
    {
        var m = New();
        m.Graph.Input.Add(Tensor("x", DataType.Float, -1, 13));
        m.Graph.Output.Add(Tensor("y", DataType.Float, -1, 3));
        m.Graph.Node.Add(Node("Cast", ["x"], ["x16"], Int("to", (int)DataType.Uint16)));
        m.Graph.Node.Add(Node("Cast", ["x16"], ["xf"], Int("to", (int)DataType.Float)));
        m.Graph.Node.Add(Node("Gemm", ["xf", Weight(m, "w", 3, 13), Weight(m, "b", 3)], ["y"], Int("transB", 1)));
        return m;
    }

    /// <summary>float [N,1,4,4] -> Flatten -> Gemm 16x3: an image model for 4x4 grey images.</summary>
    public static ModelProto TinyImageModel()
    {
        var m = New();
        m.Graph.Input.Add(Tensor("image", DataType.Float, -1, 1, 4, 4));
        m.Graph.Output.Add(Tensor("y", DataType.Float, -1, 3));
        m.Graph.Node.Add(Node("Flatten", ["image"], ["f"], Int("axis", 1)));
        m.Graph.Node.Add(Node("Gemm", ["f", Weight(m, "w", 3, 16), Weight(m, "b", 3)], ["y"], Int("transB", 1)));
        return m;
    }
}
