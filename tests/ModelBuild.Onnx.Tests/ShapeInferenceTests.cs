using Microsoft.ML.OnnxRuntime;
using ModelBuild.Onnx.Shapes;
using ModelBuild.Onnx.Tests.Infrastructure;
using Onnx;
using Xunit.Abstractions;

namespace ModelBuild.Onnx.Tests;

[Trait("Category", "Acceptance")]
public sealed class ShapeInferenceTests(ITestOutputHelper output)
{
    /// <summary>The operators the brief requires shape inference for.</summary>
    private static readonly HashSet<string> RequiredOperators = new(StringComparer.Ordinal)
    {
        "Gemm", "MatMul", "Conv", "ConvTranspose", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Erf",
        "Softmax", "LogSoftmax", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape", "Transpose", "Concat",
        "Split", "Slice", "Squeeze", "Unsqueeze", "Gather", "Shape", "Expand", "Where", "Equal", "Not", "Cast", "Clip", "Add",
        "Sub", "Mul", "Div", "Pow", "Sqrt", "Exp", "Log", "ReduceMean", "ReduceSum", "ReduceMax", "Dropout", "Identity",
        "Constant", "ConstantOfShape", "Pad", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger",
        "ConvInteger",
    };

    [Fact]
    public void Node_test_output_shapes_match_the_expected_outputs()
    {
        var mismatches = new List<string>();
        var incomplete = new List<string>();
        int compared = 0;
        foreach (var (name, directory, _) in SharedMaterials.NodeTestCases())
        {
            if (name is "test_identity_sequence" or "test_identity_opt")
            {
                continue; // sequence / optional values, not tensors
            }
            var model = OnnxModel.Load(Path.Combine(directory, "model.onnx"));
            string op = model.GraphProto.Node.Count == 1 ? model.GraphProto.Node[0].OpType : "(expanded)";
            // Shape-like operands (shape, axes, pads, split, repeats, scales, ...) are initializers in real models;
            // here they are graph inputs, so make every small input after the first a constant from the test data.
            MakeSmallInputsConstant(model, Path.Combine(directory, "test_data_set_0"), firstInput: op is "ConstantOfShape" or "Range" ? 0 : 1);
            // Forget what the file says about the outputs, so inference has to work them out.
            foreach (var o in model.GraphProto.Output)
            {
                o.Type = null;
            }
            var result = ShapeInference.Infer(model);
            Assert.True(result.FailedNodes.Count == 0, name + ": " + string.Join("; ", result.FailedNodes));
            string dataSet = Path.Combine(directory, "test_data_set_0");
            for (int i = 0; i < model.GraphProto.Output.Count; i++)
            {
                var expected = TensorProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(dataSet, $"output_{i}.pb")));
                var inferred = result.Values.GetValueOrDefault(model.GraphProto.Output[i].Name);
                compared++;
                if (inferred?.Shape is null || inferred.Shape.Any(d => !d.IsKnown) || inferred.ElementType == 0)
                {
                    incomplete.Add($"{name} [{op}] output {i}: inferred {Describe(inferred)}");
                    continue;
                }
                // In ONNX 1.16.1 the bfloat16 test data is stored as uint16 (MATERIALS.md), so compare shapes only there.
                bool typeComparable = !name.Contains("BFLOAT16", StringComparison.Ordinal);
                if (!inferred.Shape.Select(d => d.Value).SequenceEqual(expected.Dims) || (typeComparable && inferred.ElementType != expected.DataType))
                {
                    mismatches.Add($"{name} [{op}] output {i}: inferred {Describe(inferred)}, expected {expected.DataType}[{string.Join(",", expected.Dims)}]");
                }
            }
        }
        output.WriteLine($"{compared} node-test outputs compared; {incomplete.Count} not fully inferred:");
        foreach (var line in incomplete)
        {
            output.WriteLine("  " + line);
        }
        Assert.True(mismatches.Count == 0, "wrong shapes:\n" + string.Join("\n", mismatches));
        var requiredIncomplete = incomplete.Where(l => RequiredOperators.Any(op => l.Contains($"[{op}]", StringComparison.Ordinal))).ToList();
        Assert.True(requiredIncomplete.Count == 0, "required operators left unknown:\n" + string.Join("\n", requiredIncomplete));
    }

    [Fact]
    public void Real_model_shapes_match_onnx_runtime_for_every_intermediate_value()
    {
        using var temp = new TempDirectory();
        var mismatches = new List<string>();
        var summary = new List<string>();
        foreach (var file in SharedMaterials.RealModelFiles())
        {
            var model = OnnxModel.Load(file);
            var result = ShapeInference.Infer(model);
            Assert.True(result.FailedNodes.Count == 0, file + ": " + string.Join("; ", result.FailedNodes));
            // Expose every node output as a graph output (type only) and let ORT report its actual shape.
            var probe = model.Clone();
            var graphOutputs = new HashSet<string>(probe.GraphProto.Output.Select(o => o.Name));
            var probed = new List<string>();
            foreach (var node in probe.GraphProto.Node)
            {
                foreach (var name in node.Output.Where(n => n.Length > 0 && !graphOutputs.Contains(n)))
                {
                    if (result.Values.TryGetValue(name, out var v) && v.ElementType != 0)
                    {
                        probe.GraphProto.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = v.ElementType } } });
                        probed.Add(name);
                        graphOutputs.Add(name);
                    }
                }
            }
            probe.GraphProto.ValueInfo.Clear();
            string probePath = temp.File(Guid.NewGuid().ToString("N") + ".onnx");
            probe.Save(probePath);
            Dictionary<string, (int Type, long[] Shape)> actual;
            try
            {
                actual = RunForShapes(probePath, ModelInputs.For(model, file));
            }
            catch (OnnxRuntimeException e)
            {
                mismatches.Add($"{SharedMaterials.RepoRelative(file)}: ORT rejected the probe model: {e.Message}");
                continue;
            }

            var symbols = new Dictionary<string, long>();
            int values = 0, full = 0;
            foreach (var node in model.GraphProto.Node)
            {
                foreach (var name in node.Output.Where(n => n.Length > 0))
                {
                    values++;
                    var inferred = result.Values.GetValueOrDefault(name);
                    if (!actual.TryGetValue(name, out var real))
                    {
                        continue;
                    }
                    if (inferred?.Shape is null)
                    {
                        continue;
                    }
                    if (inferred.ElementType != real.Type || inferred.Shape.Length != real.Shape.Length)
                    {
                        mismatches.Add($"{SharedMaterials.RepoRelative(file)} {name} ({node.OpType}): inferred {Describe(inferred)}, ORT {real.Type}[{string.Join(",", real.Shape)}]");
                        continue;
                    }
                    bool complete = true;
                    for (int d = 0; d < real.Shape.Length; d++)
                    {
                        var dim = inferred.Shape[d];
                        if (dim.IsKnown && dim.Value != real.Shape[d]
                            || dim.IsSymbol && symbols.TryGetValue(dim.Param!, out long bound) && bound != real.Shape[d])
                        {
                            mismatches.Add($"{SharedMaterials.RepoRelative(file)} {name} ({node.OpType}): inferred {Describe(inferred)}, ORT [{string.Join(",", real.Shape)}]");
                            break;
                        }
                        if (dim.IsSymbol)
                        {
                            symbols[dim.Param!] = real.Shape[d];
                        }
                        complete &= !dim.IsUnknown;
                    }
                    if (complete)
                    {
                        full++;
                    }
                }
            }
            summary.Add($"{SharedMaterials.RepoRelative(file)}: {full}/{values} values fully inferred; unsupported ops: {string.Join(",", result.UnsupportedOperators)}");
            // BERT's Tensordot reshapes produce batch*7, a product of a symbol that a dim_param (symbol + constant
            // here) cannot name; ONNX's own inference leaves those unknown too. Every other model must be
            // inferred completely (GPT-2's past_len+1 sizes included).
            bool symbolicArithmetic = file.Contains("bert-squad");
            if (result.UnsupportedOperators.Count == 0 && full != values && !(symbolicArithmetic && full >= values * 7 / 10))
            {
                mismatches.Add($"{SharedMaterials.RepoRelative(file)}: only {full}/{values} values fully inferred although every operator is supported");
            }
        }
        foreach (var line in summary)
        {
            output.WriteLine(line);
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    private static void MakeSmallInputsConstant(OnnxModel model, string dataSet, int firstInput)
    {
        var graph = model.GraphProto;
        for (int i = graph.Input.Count - 1; i >= firstInput; i--)
        {
            string file = Path.Combine(dataSet, $"input_{i}.pb");
            if (!File.Exists(file))
            {
                continue;
            }
            var tensor = TensorProto.Parser.ParseFrom(File.ReadAllBytes(file));
            if (Tensors.TensorData.ElementCount(tensor) > 64 || tensor.DataType == (int)TensorProto.Types.DataType.String)
            {
                continue;
            }
            tensor.Name = graph.Input[i].Name;
            graph.Initializer.Add(tensor);
            graph.Input.RemoveAt(i);
        }
        model.InvalidateGraph();
    }

    private static Dictionary<string, (int Type, long[] Shape)> RunForShapes(string path, IReadOnlyDictionary<string, Func<OrtValue>> inputs)
    {
        using var options = OrtRunner.Options();
        options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL;
        using var session = new InferenceSession(path, options);
        var names = session.InputNames.Where(inputs.ContainsKey).ToList();
        var values = names.Select(n => inputs[n]()).ToList();
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, values, session.OutputNames);
            var result = new Dictionary<string, (int, long[])>();
            for (int i = 0; i < outputs.Count; i++)
            {
                if (outputs[i].OnnxType == OnnxValueType.ONNX_TYPE_TENSOR)
                {
                    var info = outputs[i].GetTensorTypeAndShape();
                    result[session.OutputNames[i]] = ((int)info.ElementDataType, info.Shape);
                }
            }
            return result;
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    [Fact]
    public void Symbolic_batch_dims_survive_and_value_info_is_written()
    {
        var model = OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "synthetic-intent-transformer", "teacher.onnx"));
        model.GraphProto.ValueInfo.Clear();
        var result = ShapeInference.Infer(model);
        Assert.Empty(result.UnsupportedOperators);
        Assert.Equal(0, result.ValuesWithoutShape);
        string batch = model.GraphProto.Input[0].Type.TensorType.Shape.Dim[0].DimParam;
        Assert.False(string.IsNullOrEmpty(batch));
        // Every MatMul output keeps the symbolic batch as its first dim.
        var matmuls = model.GraphProto.Node.Where(n => n.OpType == "MatMul").Select(n => n.Output[0]).ToList();
        Assert.NotEmpty(matmuls);
        foreach (var name in matmuls)
        {
            var vi = model.GraphProto.ValueInfo.Single(v => v.Name == name);
            Assert.Equal(batch, vi.Type.TensorType.Shape.Dim[0].DimParam);
        }
        // The annotated model still loads in ORT and saves/reloads.
        using var temp = new TempDirectory();
        model.Save(temp.File("annotated.onnx"));
        using var session = new InferenceSession(temp.File("annotated.onnx"));
        Assert.Single(session.OutputNames);
    }

    [Fact]
    public void Unknown_operators_leave_outputs_unknown_without_failing()
    {
        var model = OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "wine-mlp", "teacher.onnx"));
        var first = model.GraphProto.Node[0];
        first.OpType = "SomethingNew";
        first.Domain = "com.example";
        model.InvalidateGraph();
        var result = ShapeInference.Infer(model);
        Assert.Contains("com.example.SomethingNew", result.UnsupportedOperators);
        Assert.Empty(result.FailedNodes);
        Assert.Null(result.Values.GetValueOrDefault(first.Output[0])?.Shape);
        Assert.True(result.ValuesWithoutShape >= 1);
    }

    [Fact]
    public void A_malformed_node_is_reported_not_thrown()
    {
        var model = OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "synthetic-intent-transformer", "teacher.onnx"));
        var transpose = model.GraphProto.Node.First(n => n.OpType == "Transpose");
        transpose.Attribute.Clear();
        transpose.Attribute.Add(Graph.NodeAttributes.Ints("perm", 0, 9, 1));
        var result = ShapeInference.Infer(model);
        Assert.Single(result.FailedNodes);
        Assert.Null(result.Values.GetValueOrDefault(transpose.Output[0])?.Shape);
    }

    private static string Describe(InferredValue? v) =>
        v is null ? "nothing" : $"{v.ElementType}[{(v.Shape is null ? "?" : string.Join(",", v.Shape))}]";
}
