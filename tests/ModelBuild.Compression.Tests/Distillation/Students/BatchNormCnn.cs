using Google.Protobuf;
using Onnx;
using TensorDataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Compression.Tests.Distillation.Students;

/// <summary>
/// A small MNIST CNN with BatchNorm, written as an ONNX graph (opset 13, dynamic batch), for the data-free
/// distillation test (none of ../shared's trained models has BatchNorm) and for Conv student derivation:
/// Conv(1->8) BN ReLU MaxPool, Conv(8->16) BN ReLU, then two identical same-shape Conv(16->16, 3x3, pad 1) BN ReLU
/// blocks (a repeatable run), MaxPool, Flatten, Gemm(784->10). Weights are zeros; tests initialize and train it.
/// </summary>
internal static class BatchNormCnn
{
    public const int Channels1 = 8, Channels2 = 16, Classes = 10;

    public static ModelProto Build()
    {
        var g = new GraphProto { Name = "bn_cnn" };
        g.Input.Add(Value("image", "N", 1, 28, 28));
        string x = "image";
        x = ConvBlock(g, 1, x, 1, Channels1);
        x = Node(g, "MaxPool", "pool1", new[] { x }, Ints("kernel_shape", 2, 2), Ints("strides", 2, 2));
        x = ConvBlock(g, 2, x, Channels1, Channels2);
        x = ConvBlock(g, 3, x, Channels2, Channels2);
        x = ConvBlock(g, 4, x, Channels2, Channels2);
        x = Node(g, "MaxPool", "pool2", new[] { x }, Ints("kernel_shape", 2, 2), Ints("strides", 2, 2));
        x = Node(g, "Flatten", "flatten", new[] { x });
        g.Initializer.Add(Zeros("fc.weight", Classes, Channels2 * 7 * 7));
        g.Initializer.Add(Zeros("fc.bias", Classes));
        var gemm = new NodeProto { OpType = "Gemm", Name = "fc" };
        gemm.Input.AddRange(new[] { x, "fc.weight", "fc.bias" });
        gemm.Output.Add("logits");
        gemm.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        g.Node.Add(gemm);
        g.Output.Add(Value("logits", "N", Classes));
        var model = new ModelProto { IrVersion = 7, ProducerName = "ModelBuild tests", Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    /// <summary>
    /// Trainable parameters by the formula: Conv weights and biases, BatchNorm scale and shift (2 per channel; the
    /// running statistics are buffers), the Gemm over c2 x 7 x 7 features.
    /// </summary>
    public static long TrainableParameters(int c1, int c2, int sameShapeBlocks) =>
        Conv(1, c1) + 2 * c1 + Conv(c1, c2) + 2 * c2 + sameShapeBlocks * (Conv(c2, c2) + 2 * c2) + Classes * c2 * 49 + Classes;

    static long Conv(int cin, int cout) => (long)cout * cin * 9 + cout;

    static string ConvBlock(GraphProto g, int i, string x, int cin, int cout)
    {
        g.Initializer.Add(Zeros($"conv{i}.weight", cout, cin, 3, 3));
        g.Initializer.Add(Zeros($"conv{i}.bias", cout));
        foreach (var p in new[] { "scale", "bias", "mean", "var" }) g.Initializer.Add(Zeros($"bn{i}.{p}", cout));
        x = Node(g, "Conv", $"conv{i}", new[] { x, $"conv{i}.weight", $"conv{i}.bias" }, Ints("kernel_shape", 3, 3), Ints("pads", 1, 1, 1, 1));
        x = Node(g, "BatchNormalization", $"bn{i}", new[] { x, $"bn{i}.scale", $"bn{i}.bias", $"bn{i}.mean", $"bn{i}.var" });
        return Node(g, "Relu", $"relu{i}", new[] { x });
    }

    internal static string Node(GraphProto g, string op, string name, string[] inputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(name + "_out");
        n.Attribute.AddRange(attributes);
        g.Node.Add(n);
        return name + "_out";
    }

    internal static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    internal static ValueInfoProto Value(string name, string batch, params long[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batch });
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorDataType.Float, Shape = shape } } };
    }

    internal static TensorProto Zeros(string name, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorDataType.Float };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(new byte[dims.Aggregate(1L, (p, d) => p * d) * 4]);
        return t;
    }
}

/// <summary>
/// A post-activation ResNet in miniature: a stem Conv(1->8) + ReLU, <c>blocks</c> identical residual blocks
/// relu(x + BN(Conv(relu(BN(Conv(x)))))) at 8 channels and 28x28, global average pooling and Gemm(8->10).
/// </summary>
internal static class ResidualCnn
{
    public const int Channels = 8;

    public static ModelProto Build(int blocks)
    {
        var g = new GraphProto { Name = "residual_cnn" };
        g.Input.Add(BatchNormCnn.Value("image", "N", 1, 28, 28));
        g.Initializer.Add(BatchNormCnn.Zeros("stem.weight", Channels, 1, 3, 3));
        string x = BatchNormCnn.Node(g, "Conv", "stem", new[] { "image", "stem.weight" }, BatchNormCnn.Ints("kernel_shape", 3, 3), BatchNormCnn.Ints("pads", 1, 1, 1, 1));
        x = BatchNormCnn.Node(g, "Relu", "stem_relu", new[] { x });
        for (int b = 0; b < blocks; b++)
        {
            string skip = x;
            for (int i = 0; i < 2; i++)
            {
                string p = $"block{b}.{i}";
                g.Initializer.Add(BatchNormCnn.Zeros(p + ".conv", Channels, Channels, 3, 3));
                foreach (var n in new[] { "scale", "bias", "mean", "var" }) g.Initializer.Add(BatchNormCnn.Zeros($"{p}.bn.{n}", Channels));
                x = BatchNormCnn.Node(g, "Conv", p + "/conv", new[] { x, p + ".conv" }, BatchNormCnn.Ints("kernel_shape", 3, 3), BatchNormCnn.Ints("pads", 1, 1, 1, 1));
                x = BatchNormCnn.Node(g, "BatchNormalization", p + "/bn", new[] { x, p + ".bn.scale", p + ".bn.bias", p + ".bn.mean", p + ".bn.var" });
                if (i == 0) x = BatchNormCnn.Node(g, "Relu", p + "/relu", new[] { x });
            }
            x = BatchNormCnn.Node(g, "Add", $"block{b}/add", new[] { skip, x });
            x = BatchNormCnn.Node(g, "Relu", $"block{b}/relu", new[] { x });
        }
        x = BatchNormCnn.Node(g, "GlobalAveragePool", "gap", new[] { x });
        x = BatchNormCnn.Node(g, "Flatten", "flatten", new[] { x });
        g.Initializer.Add(BatchNormCnn.Zeros("fc.weight", 10, Channels));
        g.Initializer.Add(BatchNormCnn.Zeros("fc.bias", 10));
        var gemm = new NodeProto { OpType = "Gemm", Name = "fc" };
        gemm.Input.AddRange(new[] { x, "fc.weight", "fc.bias" });
        gemm.Output.Add("logits");
        gemm.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
        g.Node.Add(gemm);
        g.Output.Add(BatchNormCnn.Value("logits", "N", 10));
        var model = new ModelProto { IrVersion = 7, ProducerName = "ModelBuild tests", Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    /// <summary>Float parameters (BN running statistics included) at <paramref name="c"/> channels with <paramref name="blocks"/> blocks.</summary>
    public static long Parameters(int c, int blocks) => c * 9 + blocks * 2 * (c * c * 9 + 4 * c) + 10 * c + 10;
}
