using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Import;

/// <summary>
/// An ONNX graph as a TorchSharp module. The float weight initializers are registered <see cref="Parameter"/>s (so
/// optimizers and <c>parameters()</c> see them); every other initializer and every Constant node output is a buffer.
/// Forward executes the nodes in topological order with the kernels of <see cref="OnnxOperators"/>, so gradients flow
/// through the same computation ONNX Runtime runs. Built by <see cref="OnnxGraphImporter"/>.
/// </summary>
public sealed class OnnxGraphModule : nn.Module<Tensor, Tensor>
{
    readonly List<(OnnxNodeContext Context, OnnxKernel Kernel)> _plan = new();
    readonly Dictionary<string, Parameter> _onnxParameters = new(StringComparer.Ordinal);
    readonly Dictionary<string, Tensor> _constants = new(StringComparer.Ordinal);
    readonly HashSet<string> _initializerBuffers = new(StringComparer.Ordinal);
    readonly HashSet<string> _float16Outputs;
    readonly HashSet<NodeProto> _dropoutNodes = new(ReferenceEqualityComparer.Instance);
    readonly HashSet<string> _constantWeights = new(StringComparer.Ordinal);

    internal OnnxGraphModule(ModelProto model, IReadOnlyList<NodeProto> sortedNodes, int opset, Func<TensorProto, bool> isTrainable, string name, bool float16AsFloat32,
        bool fuseOperators = false, IReadOnlySet<string>? preserveTensors = null)
        : base(name)
    {
        Model = model;
        Opset = opset;
        Float16AsFloat32 = float16AsFloat32;
        var graph = model.Graph;
        var initializerNames = graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        InputNames = graph.Input.Select(i => i.Name).Where(n => !initializerNames.Contains(n)).ToArray();
        OutputNames = graph.Output.Select(o => o.Name).ToArray();
        _float16Outputs = graph.Output.Where(o => o.Type?.TensorType?.ElemType == (int)TensorProto.Types.DataType.Float16).Select(o => o.Name).ToHashSet(StringComparer.Ordinal);

        var usedNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var init in graph.Initializer)
        {
            var tensor = TensorProtoConverter.ToTensor(init);
            if (float16AsFloat32 && tensor.dtype == ScalarType.Float16) tensor = tensor.to_type(ScalarType.Float32);
            var registered = UniqueModuleName(init.Name, usedNames);
            if (isTrainable(init))
            {
                var p = new Parameter(tensor, requires_grad: true);
                _onnxParameters[init.Name] = p;
                register_parameter(registered, p);
            }
            else
            {
                _constants[init.Name] = tensor;
                _initializerBuffers.Add(init.Name);
                register_buffer(registered, tensor);
            }
            ModuleNames[init.Name] = registered;
        }

        var computed = new List<NodeProto>(sortedNodes.Count);
        foreach (var node in sortedNodes)
        {
            if (node.OpType == "Constant")
            {
                // Constants are evaluated once here instead of on every forward pass.
                var value = OnnxOperators.Get(node.OpType)(new OnnxNodeContext(node, opset, float16AsFloat32))[0];
                var registered = UniqueModuleName(node.Output[0], usedNames);
                if (IsConstantWeight(node, value))
                {
                    // Converter and PyTorch exports that fold weights into Constant nodes: they train like initializers
                    // and the exporter writes them back into the node (ConstantWeights).
                    var p = new Parameter(value, requires_grad: true);
                    _onnxParameters[node.Output[0]] = p;
                    _constantWeights.Add(node.Output[0]);
                    register_parameter(registered, p);
                    ModuleNames[node.Output[0]] = registered;
                    continue;
                }
                _constants[node.Output[0]] = value;
                register_buffer(registered, value, persistent: false);
                continue;
            }
            computed.Add(node);
            if (node.OpType == "Softmax" || IsHiddenLinear(node, initializerNames, sortedNodes)) _dropoutNodes.Add(node);
        }
        if (fuseOperators)
        {
            var keep = new HashSet<string>(OutputNames, StringComparer.Ordinal);
            if (preserveTensors is not null) keep.UnionWith(preserveTensors);
            computed = OperatorFusion.Fuse(computed, n => ConstantValue(n) ?? ParameterValue(n), keep);
        }
        foreach (var node in computed) _plan.Add((new OnnxNodeContext(node, opset, float16AsFloat32), OnnxOperators.Get(node.OpType)));
        FusedOperators = computed.Count(n => n.Name.Contains("/fused_", StringComparison.Ordinal));
    }

    /// <summary>How many decomposed LayerNorm/GELU subgraphs run as one kernel (see <see cref="OperatorFusion"/>).</summary>
    public int FusedOperators { get; }

    /// <summary>The nodes forward executes, in order (after fusion; Constant nodes are evaluated at import).</summary>
    public IEnumerable<NodeProto> PlanNodes => _plan.Select(p => p.Context.Node);

    /// <summary>The value of a non-trainable initializer or Constant node output, or null.</summary>
    public Tensor? ConstantValue(string name) => _constants.GetValueOrDefault(name);

    /// <summary>The trainable initializer of this name, or null.</summary>
    public Tensor? ParameterValue(string name) => _onnxParameters.GetValueOrDefault(name);

    public ModelProto Model { get; }
    public int Opset { get; }

    /// <summary>
    /// float16 graphs are computed in float32 (inputs, weights and Casts to float16 widened; float16 graph outputs
    /// rounded back). This is what ONNX Runtime's CPU provider does for float16 models (it inserts Casts around
    /// kernels that have no float16 version and removes the redundant pairs), so the results match it, and training
    /// in float32 is what a float16 student needs anyway; export converts the values back to float16.
    /// </summary>
    public bool Float16AsFloat32 { get; }
    public IReadOnlyList<string> InputNames { get; }
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>
    /// Applied to each trainable tensor on every forward pass (by ONNX name), e.g. fake quantization with a
    /// straight-through estimator for quantization-aware distillation. Null: the parameters are used as they are.
    /// </summary>
    public Func<string, Tensor, Tensor>? ParameterTransform { get; set; }

    /// <summary>
    /// Applied to the graph inputs and node outputs named in <see cref="TransformedValues"/> as they are computed (with
    /// the training flag), e.g. activation fake quantization for quantization-aware distillation. Null: none.
    /// </summary>
    public Func<string, Tensor, bool, Tensor>? ValueTransform { get; set; }

    /// <summary>The value names <see cref="ValueTransform"/> applies to.</summary>
    public IReadOnlySet<string> TransformedValues { get; set; } = new HashSet<string>();

    /// <summary>
    /// Dropout applied while training to the outputs of the graph's hidden linear layers (MatMul/Gemm with a weight
    /// initializer, except those producing a graph output) and of its Softmax nodes (attention probabilities), i.e.
    /// where nn.Dropout sits in PyTorch MLP and transformer blocks. Exported inference graphs have no Dropout nodes,
    /// so without this a student trains with less regularization than its PyTorch original. 0 disables it.
    /// </summary>
    public double TrainingDropout { get; set; }

    /// <summary>The trainable tensors held by Constant nodes (by output name) rather than initializers.</summary>
    public IReadOnlySet<string> ConstantWeights => _constantWeights;

    /// <summary>
    /// A Constant node's tensor is a weight when it is floating point with more than one element (a tensor `value`
    /// attribute): a scalar such as the attention scale or the mask's -10000 stays a constant, shapes are integers.
    /// </summary>
    static bool IsConstantWeight(NodeProto node, Tensor value) =>
        node.Attribute.Any(a => a.Name == "value") && value.numel() > 1
        && value.dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 or ScalarType.BFloat16;

    /// <summary>The trainable tensors, by ONNX initializer name (or Constant node output name, see <see cref="ConstantWeights"/>).</summary>
    public IReadOnlyDictionary<string, Parameter> OnnxParameters => _onnxParameters;

    /// <summary>Initializer-backed buffers (e.g. BatchNorm running statistics, which training updates), by ONNX name.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> InitializerBuffers => _constants.Where(kv => _initializerBuffers.Contains(kv.Key));

    /// <summary>The name each initializer is registered under in this module (ONNX names may contain '.').</summary>
    public Dictionary<string, string> ModuleNames { get; } = new(StringComparer.Ordinal);

    /// <summary>Runs the single-input, first-output graph (the common classifier case).</summary>
    public override Tensor forward(Tensor input)
    {
        if (InputNames.Count != 1)
            throw new InvalidOperationException($"The graph has {InputNames.Count} inputs; use Run with named inputs.");
        return Run(new Dictionary<string, Tensor> { [InputNames[0]] = input }, new[] { OutputNames[0] })[OutputNames[0]];
    }

    /// <summary>
    /// Runs the graph. <paramref name="fetch"/> names the tensors to return: graph outputs or any intermediate value
    /// (feature distillation reads hidden states this way); null returns the graph outputs.
    /// Tensors created here belong to the caller's dispose scope.
    /// </summary>
    /// <param name="truncation">When the token input is shorter than the exported length, run the graph at that length (see <see cref="SequenceTruncation"/>).</param>
    public Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyCollection<string>? fetch = null, SequenceTruncation? truncation = null)
    {
        var values = new Dictionary<string, Tensor>(_onnxParameters.Count + _constants.Count + _plan.Count * 2, StringComparer.Ordinal);
        var transform = ParameterTransform;
        foreach (var (k, v) in _onnxParameters) values[k] = transform is null ? v : transform(k, v);
        foreach (var (k, v) in _constants) values[k] = v;
        foreach (var name in InputNames)
        {
            if (!inputs.TryGetValue(name, out var t))
                throw new ArgumentException($"Missing graph input '{name}'.", nameof(inputs));
            values[name] = Float16AsFloat32 && t.dtype == ScalarType.Float16 ? t.to_type(ScalarType.Float32) : t;
        }
        if (truncation is not null && values[truncation.InputName].shape[1] is var length && length < truncation.FullLength)
            truncation.Apply(values, length);
        bool isTraining = training;
        var valueTransform = ValueTransform;
        if (valueTransform is not null)
            foreach (var name in InputNames.Where(TransformedValues.Contains)) values[name] = valueTransform(name, values[name], isTraining);
        foreach (var (context, kernel) in _plan)
        {
            var node = context.Node;
            var args = new Tensor?[node.Input.Count];
            for (int i = 0; i < args.Length; i++)
            {
                var n = node.Input[i];
                if (n.Length == 0) continue;
                args[i] = values.TryGetValue(n, out var v) ? v
                    : throw new InvalidOperationException($"Node '{node.Name}' ({node.OpType}) reads '{n}', which no node or input produces.");
            }
            context.Inputs = args;
            context.Training = isTraining;
            var outputs = kernel(context);
            if (isTraining && TrainingDropout > 0 && _dropoutNodes.Contains(node))
                outputs[0] = nn.functional.dropout(outputs[0], TrainingDropout, true);
            for (int i = 0; i < node.Output.Count && i < outputs.Length; i++)
                if (node.Output[i].Length > 0)
                    values[node.Output[i]] = valueTransform is not null && TransformedValues.Contains(node.Output[i]) ? valueTransform(node.Output[i], outputs[i], isTraining) : outputs[i];
            context.Inputs = Array.Empty<Tensor?>();
        }
        var names = fetch ?? OutputNames;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var t = values.TryGetValue(name, out var v) ? v
                : throw new ArgumentException($"The graph has no tensor named '{name}'.", nameof(fetch));
            if (Float16AsFloat32 && _float16Outputs.Contains(name)) t = t.to_type(ScalarType.Float16);
            result[name] = t;
        }
        return result;
    }

    /// <summary>Whether the graph computes a tensor of this name (input, initializer, or node output).</summary>
    public bool HasTensor(string name) =>
        InputNames.Contains(name) || _onnxParameters.ContainsKey(name) || _constants.ContainsKey(name)
        || _plan.Any(p => p.Context.Node.Output.Contains(name));

    /// <summary>A MatMul/Gemm with a weight initializer whose result (after an optional bias Add) is neither a graph
    /// output nor reshaped into attention heads (query/key/value projections get no dropout in PyTorch blocks).</summary>
    bool IsHiddenLinear(NodeProto node, HashSet<string> initializers, IReadOnlyList<NodeProto> nodes)
    {
        if (node.OpType is not ("MatMul" or "Gemm") || node.Input.Count < 2 || !initializers.Contains(node.Input[1])) return false;
        var value = node.Output[0];
        var consumers = nodes.Where(n => n.Input.Contains(value)).ToList();
        if (consumers.Count == 1 && consumers[0].OpType == "Add" && consumers[0].Input.Any(initializers.Contains))
        {
            value = consumers[0].Output[0];
            consumers = nodes.Where(n => n.Input.Contains(value)).ToList();
        }
        return !OutputNames.Contains(value) && consumers.Count > 0 && consumers.All(n => n.OpType != "Reshape");
    }

    static string UniqueModuleName(string onnxName, HashSet<string> used)
    {
        var baseName = new string(onnxName.Select(ch => char.IsLetterOrDigit(ch) || ch == '_' ? ch : '_').ToArray());
        if (baseName.Length == 0) baseName = "_";
        var candidate = baseName;
        for (int i = 1; !used.Add(candidate); i++) candidate = $"{baseName}_{i}";
        return candidate;
    }
}
