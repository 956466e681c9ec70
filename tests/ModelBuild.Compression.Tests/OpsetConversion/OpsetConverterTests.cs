using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.OpsetConversion;
using ModelBuild.Onnx.Tensors;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Compression.Tests.OpsetConversion;

/// <summary>
/// Each rewrite of the opset converter is checked the way the issue asks: the old-opset model and its conversion run
/// in ONNX Runtime on the same inputs and must give the same outputs (ONNX Runtime still implements every old version).
/// </summary>
public sealed class OpsetConverterTests
{
    private static readonly long[] Image = [2, 3, 5, 7];

    public static TheoryData<string> Cases => new(OldOpsetModels.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_converted_model_computes_what_the_old_one_computes(string name)
    {
        var (build, target) = OldOpsetModels[name];
        var old = build();
        var converted = old.Clone();
        var rewritten = OpsetConverter.Convert(converted, target);
        Assert.Equal(target, converted.OpsetImport.Single(o => o.Domain == "").Version);
        var inputs = old.Graph.Input.Select(i => (i.Name, Dims: i.Type.TensorType.Shape.Dim.Select(d => d.DimValue).ToArray())).ToList();
        var expected = Run(old, inputs);
        var actual = Run(converted, inputs);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Dims, actual[i].Dims);
            for (var j = 0; j < expected[i].Values.Length; j++)
                Assert.True(Math.Abs(expected[i].Values[j] - actual[i].Values[j]) <= 1e-5f + 1e-5f * Math.Abs(expected[i].Values[j]),
                    $"{name}: output {i} element {j}: {expected[i].Values[j]} vs {actual[i].Values[j]}");
        }
        // Only the cases whose operator is stable across the versions rewrite nothing.
        Assert.Equal(name.StartsWith("stable", StringComparison.Ordinal), rewritten.Count == 0);
    }

    [Fact]
    public void Softmax_on_a_middle_axis_keeps_the_old_flattened_meaning()
    {
        // Opset-11 Softmax(axis=1) on [2,3,5,7] normalizes over 3*5*7 values, opset-13 Softmax(axis=1) over 3: a
        // converter that only bumped the version would pass ONNX Runtime's loader and change every output.
        var model = OldOpsetModels["softmax_axis1"].Build();
        var naive = model.Clone();
        naive.OpsetImport.Single(o => o.Domain == "").Version = 13;
        var inputs = new List<(string, long[])> { ("x", Image) };
        var old = Run(model, inputs)[0].Values;
        Assert.NotEqual(old[0], Run(naive, inputs)[0].Values[0], 3);
    }

    [Fact]
    public void An_operator_without_a_faithful_rewrite_is_refused_by_name_and_node()
    {
        var model = Single(7, "BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], [NodeAttributes.Int("spatial", 0)],
            inits: [Floats("scale", 3, 5, 7), Floats("bias", 3, 5, 7), Floats("mean", 3, 5, 7), Positive("var", 3, 5, 7)]);
        var e = Assert.Throws<OpsetConversionException>(() => OpsetConverter.Convert(model, 13));
        var refusal = Assert.Single(e.Refusals);
        Assert.Equal("BatchNormalization", refusal.OpType);
        Assert.Equal("node0", refusal.Node);
        Assert.Contains("spatial", refusal.Reason);

        // ONNX Runtime's Resize-10 rounds nearest coordinates down on upsampled axes and up on downsampled ones.
        var mixed = Single(10, "Resize", ["x", "scales"], ["y"], [NodeAttributes.String("mode", "nearest")], inits: [Values("scales", [1, 1, 0.6f, 1.5f], 4)]);
        Assert.Contains("below and above 1", Assert.Single(Assert.Throws<OpsetConversionException>(() => OpsetConverter.Convert(mixed, 11)).Refusals).Reason);

        var unknown = Single(9, "NoSuchOp", ["x"], ["y"], []);
        Assert.Contains("NoSuchOp", Assert.Throws<OpsetConversionException>(() => OpsetConverter.Convert(unknown, 13)).Message);
    }

    private static readonly Dictionary<string, (Func<ModelProto> Build, int Target)> OldOpsetModels = new()
    {
        ["clip_min_max"] = (() => Single(9, "Clip", ["x"], ["y"], [NodeAttributes.Float("min", -0.3f), NodeAttributes.Float("max", 0.4f)]), 13),
        ["clip_max_only"] = (() => Single(10, "Clip", ["x"], ["y"], [NodeAttributes.Float("max", 0.1f)]), 11),
        ["softmax_axis1"] = (() => Single(11, "Softmax", ["x"], ["y"], [NodeAttributes.Int("axis", 1)]), 13),
        ["softmax_default_axis"] = (() => Single(9, "Softmax", ["x"], ["y"], []), 13),
        ["softmax_last_axis"] = (() => Single(12, "Softmax", ["x"], ["y"], [NodeAttributes.Int("axis", 3)]), 13),
        ["logsoftmax_axis0"] = (() => Single(11, "LogSoftmax", ["x"], ["y"], [NodeAttributes.Int("axis", 0)]), 13),
        ["hardmax_axis2"] = (() => Single(11, "Hardmax", ["x"], ["y"], [NodeAttributes.Int("axis", 2)]), 13),
        ["squeeze_unsqueeze"] = (() => Chain(11, ("Unsqueeze", [NodeAttributes.Ints("axes", 0, 5)]), ("Squeeze", [NodeAttributes.Ints("axes", 0, -1)])), 13),
        ["reducesum_axes"] = (() => Single(11, "ReduceSum", ["x"], ["y"], [NodeAttributes.Ints("axes", 1, 3), NodeAttributes.Int("keepdims", 0)]), 13),
        ["split_sizes"] = (() => Single(11, "Split", ["x"], ["y", "z"], [NodeAttributes.Int("axis", 3), NodeAttributes.Ints("split", 2, 5)]), 13),
        ["slice_attributes"] = (() => Single(9, "Slice", ["x"], ["y"], [NodeAttributes.Ints("starts", 1, 2), NodeAttributes.Ints("ends", 3, 1000), NodeAttributes.Ints("axes", 1, 3)]), 13),
        ["pad_reflect"] = (() => Single(10, "Pad", ["x"], ["y"], [NodeAttributes.String("mode", "reflect"), NodeAttributes.Ints("pads", 0, 0, 1, 2, 0, 0, 2, 1)]), 13),
        ["pad_constant_value"] = (() => Single(9, "Pad", ["x"], ["y"], [NodeAttributes.Ints("pads", 0, 1, 1, 0, 0, 0, 1, 3), NodeAttributes.Float("value", 0.5f)]), 11),
        ["topk_k"] = (() => Single(9, "TopK", ["x"], ["y", "i"], [NodeAttributes.Int("k", 3)]), 13),
        ["upsample_nearest"] = (() => Single(9, "Upsample", ["x", "scales"], ["y"], [NodeAttributes.String("mode", "nearest")], inits: [Values("scales", [1, 1, 1.5f, 2.5f], 4)]), 13),
        ["upsample_linear"] = (() => Single(9, "Upsample", ["x", "scales"], ["y"], [NodeAttributes.String("mode", "linear")], inits: [Values("scales", [1, 1, 2, 3], 4)]), 13),
        ["upsample7_attribute"] = (() => Single(7, "Upsample", ["x"], ["y"], [NodeAttributes.Floats("scales", 1, 1, 2, 2)]), 11),
        ["resize10_nearest_down"] = (() => Single(10, "Resize", ["x", "scales"], ["y"], [NodeAttributes.String("mode", "nearest")], inits: [Values("scales", [1, 1, 0.6f, 0.75f], 4)]), 13),
        ["resize10_nearest_up"] = (() => Single(10, "Resize", ["x", "scales"], ["y"], [NodeAttributes.String("mode", "nearest")], inits: [Values("scales", [1, 1, 1.4f, 2.6f], 4)]), 11),
        ["resize10_linear"] = (() => Single(10, "Resize", ["x", "scales"], ["y"], [NodeAttributes.String("mode", "linear")], inits: [Values("scales", [1, 1, 1.6f, 0.5f], 4)]), 13),
        ["dropout_ratio"] = (() => Single(10, "Dropout", ["x"], ["y"], [NodeAttributes.Float("ratio", 0.3f)]), 13),
        ["batchnorm_spatial"] = (() => Single(7, "BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], [NodeAttributes.Int("spatial", 1)],
            inits: [Floats("s", 3), Floats("b", 3), Floats("m", 3), Positive("v", 3)]), 13),
        ["imagescaler"] = (() => Single(7, "ImageScaler", ["x"], ["y"], [NodeAttributes.Float("scale", 0.5f), NodeAttributes.Floats("bias", 1, -2, 3)]), 13),
        ["affine"] = (() => Single(7, "Affine", ["x"], ["y"], [NodeAttributes.Float("alpha", 2f), NodeAttributes.Float("beta", -1f)]), 13),
        ["crop_border"] = (() => Single(7, "Crop", ["x"], ["y"], [NodeAttributes.Ints("border", 1, 2, 3, 1)]), 13),
        ["crop_scale"] = (() => Single(7, "Crop", ["x"], ["y"], [NodeAttributes.Ints("border", 2, 1, 0, 0), NodeAttributes.Ints("scale", 3, 4)]), 13),
        ["stable_hardsigmoid_reducemean"] = (() => Chain(9, ("HardSigmoid", [NodeAttributes.Float("alpha", 0.3f)]), ("ReduceMean", [NodeAttributes.Ints("axes", 2)])), 13),
    };

    private static ModelProto Single(int opset, string op, string[] inputs, string[] outputs, AttributeProto[] attributes, TensorProto[]? inits = null)
    {
        var model = NewModel(opset);
        var node = new NodeProto { OpType = op, Name = "node0" };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        model.Graph.Node.Add(node);
        if (inits is not null) model.Graph.Initializer.AddRange(inits);
        foreach (var o in outputs) model.Graph.Output.Add(Value(o, o == "i" ? DataType.Int64 : DataType.Float));
        return model;
    }

    private static ModelProto Chain(int opset, params (string Op, AttributeProto[] Attributes)[] steps)
    {
        var model = NewModel(opset);
        var previous = "x";
        for (var i = 0; i < steps.Length; i++)
        {
            var output = i == steps.Length - 1 ? "y" : $"t{i}";
            var node = new NodeProto { OpType = steps[i].Op, Name = $"node{i}", Input = { previous }, Output = { output } };
            node.Attribute.AddRange(steps[i].Attributes);
            model.Graph.Node.Add(node);
            previous = output;
        }
        model.Graph.Output.Add(Value("y", DataType.Float));
        return model;
    }

    private static ModelProto NewModel(int opset)
    {
        var model = new ModelProto { IrVersion = 7, Graph = new GraphProto { Name = "g" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        var x = Value("x", DataType.Float);
        x.Type.TensorType.Shape = new TensorShapeProto();
        foreach (var d in Image) x.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        model.Graph.Input.Add(x);
        return model;
    }

    private static ValueInfoProto Value(string name, DataType type) =>
        new() { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } } };

    private static TensorProto Values(string name, float[] values, params long[] dims) => TensorData.Create(name, values, dims);

    private static TensorProto Floats(string name, params long[] dims)
    {
        var count = (int)dims.Aggregate(1L, (a, b) => a * b);
        return TensorData.Create(name, Enumerable.Range(0, count).Select(i => MathF.Sin(i * 1.7f) * 0.8f).ToArray(), dims);
    }

    private static TensorProto Positive(string name, params long[] dims)
    {
        var count = (int)dims.Aggregate(1L, (a, b) => a * b);
        return TensorData.Create(name, Enumerable.Range(0, count).Select(i => 0.5f + (i % 7) * 0.1f).ToArray(), dims);
    }

    private static List<(long[] Dims, float[] Values)> Run(ModelProto model, IReadOnlyList<(string Name, long[] Dims)> inputs)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var session = new InferenceSession(model.ToByteArray(), options);
        var feeds = inputs.Select(i =>
        {
            var count = (int)i.Dims.Aggregate(1L, (a, b) => a * b);
            // Deterministic values with ties broken (Hardmax/TopK) and both signs (Clip/Pad/ReduceSum).
            var data = Enumerable.Range(0, count).Select(k => MathF.Sin(k * 0.37f + 0.1f) * 1.3f + k * 1e-4f).ToArray();
            return NamedOnnxValue.CreateFromTensor(i.Name, new DenseTensor<float>(data, i.Dims.Select(d => (int)d).ToArray()));
        }).ToList();
        using var results = session.Run(feeds);
        return results.Select(r => r.Value is DenseTensor<long> l
            ? (l.Dimensions.ToArray().Select(d => (long)d).ToArray(), l.ToArray().Select(v => (float)v).ToArray())
            : (r.AsTensor<float>().Dimensions.ToArray().Select(d => (long)d).ToArray(), r.AsTensor<float>().ToArray())).ToList();
    }
}
