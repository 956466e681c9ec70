using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Static int8 quantization in QDQ form, as ONNX Runtime recommends for CPU: signed int8 activations
/// (asymmetric, calibrated ranges) and signed int8 weights (symmetric, per output channel by default),
/// int32 biases, for Conv, Gemm and MatMul; embedding tables read by Gather are stored int8 and dequantized after
/// the lookup. ONNX Runtime fuses the QDQ groups into QLinearConv / QGemm / QLinearMatMul / MatMulIntegerToFloat.
/// Quantization points: every activation input of a quantized node, the output of a quantized node when it feeds
/// only quantized or data-movement nodes (through a single ReLU, whose range then makes ORT drop it), and the
/// outputs of data-movement nodes (MaxPool, Reshape, ...) behind a quantized tensor, with the same parameters so
/// ORT can run them on int8 directly. ONNX Runtime's fused Attention (from the optimize stage) becomes QAttention
/// with its input quantized to uint8 by a QuantizeLinear with the calibrated range (no QDQ form of Attention exists
/// that the CPU provider runs on integers: a Q feeding DQs would leave q/k/v float).
/// </summary>
public sealed class StaticQdqInt8Quantizer : IQuantizationForm
{
    public const string FormName = "int8-static";

    public string Name => FormName;
    public IReadOnlyList<string> Aliases => ["int8static", "int8", "static"];
    /// <summary>Per-axis QDQ (per-channel weight scales).</summary>
    public int MinimumOpset => GraphPreparation.QuantizationOpset;
    public bool SensitivityRepair => true;
    public bool NeedsCalibration => true;
    public bool OnlyWeightMatrices => false;
    public double BestCaseSizeRatio => 1 / 4.0;
    public int? AutoRank => 1;
    public bool FitsAuto(QuantizationFacts facts) => facts.HasCalibrationData;

    /// <summary>
    /// The form's build: the nodes <see cref="Int8KernelSizeRule"/> keeps float for speed (unless the request turns it off) are left out of the QDQ rewrite and
    /// get int8 weight storage instead; the request's excluded nodes (the accuracy repair's) stay float as they are.
    /// </summary>
    public QuantizedModel Quantize(ModelProto prepared, QuantizeRequest request)
    {
        var forSpeed = request.SpeedRule
            ? Int8KernelSizeRule.KeepFloat(prepared.Graph, request.ExcludedNodes)
            : [];
        var excluded = new HashSet<string>(request.ExcludedNodes.Concat(forSpeed), StringComparer.Ordinal);
        var result = new StaticQdqInt8Quantizer { ExcludedNodes = excluded, PerChannel = request.PerChannel }.Quantize(prepared, request.Ranges!);
        if (forSpeed.Count == 0) return result;
        var stored = new Int8WeightStorage().Quantize(result.Model, forSpeed.ToHashSet(StringComparer.Ordinal)).Model;
        return result with { Model = stored, KeptFloatForSpeed = forSpeed };
    }

    /// <summary>Data-movement nodes kept on the quantized path (they run on int8 directly); also Int8KernelSizeRule's pass-through.</summary>
    internal static readonly HashSet<string> DataMovement = new(StringComparer.Ordinal)
        { "MaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze" };

    /// <summary>Per-output-channel weight scales (opset 13); false: one scale per tensor, which opset 10 can express.</summary>
    public bool PerChannel { get; init; } = true;
    /// <summary>Nodes (by name) to leave in float: the sensitivity repair's output, or the user's.</summary>
    public IReadOnlySet<string> ExcludedNodes { get; init; } = new HashSet<string>();

    /// <summary>The quantization plan: nodes to quantize and activation tensors that need a calibrated range.</summary>
    public (List<QuantizableNode> Nodes, List<string> Tensors, Dictionary<string, string> SameAs) Plan(GraphProto graph)
    {
        var nodes = QuantizableNode.Find(graph).Where(n => !ExcludedNodes.Contains(n.Name)).ToList();
        var consumers = Consumers(graph);
        var graphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var quantizedNodes = nodes.Where(n => n.Kind != QuantizableKind.GatherEmbedding).Select(n => n.Node).ToHashSet(ReferenceEqualityComparer.Instance);
        var tensors = new List<string>();
        var set = new HashSet<string>(StringComparer.Ordinal);
        void Add(string t) { if (set.Add(t)) tensors.Add(t); }

        foreach (var q in nodes)
            foreach (var i in q.ActivationInputs)
                Add(q.Node.Input[i]);

        bool FeedsQuantized(string t) => !graphOutputs.Contains(t) && consumers.TryGetValue(t, out var cs) && cs.Count > 0
            && cs.All(c => quantizedNodes.Contains(c) || DataMovement.Contains(c.OpType));
        // Weight MatMuls keep a float output: ORT runs DQ -> MatMul as MatMulIntegerToFloat with per-channel weights,
        // while DQ -> MatMul -> Q (QLinearMatMul) only fuses with per-tensor weights and would otherwise fall back to float.
        foreach (var q in nodes.Where(n => n.Kind is not (QuantizableKind.GatherEmbedding or QuantizableKind.MatMulWeight)))
        {
            var output = q.Node.Output[0];
            if (consumers.TryGetValue(output, out var cs) && cs.Count == 1 && cs[0].OpType == "Relu" && !graphOutputs.Contains(output))
                output = cs[0].Output[0];
            if (FeedsQuantized(output)) Add(output);
        }

        // The fused Attentions' inputs: a calibrated range for QAttention's uint8 input.
        var writer = new QdqGraphWriter(graph);
        foreach (var attention in graph.Node.Where(n => DynamicInt8Quantizer.IsFusedAttention(n, writer) && !ExcludedNodes.Contains(n.Name)))
            Add(attention.Input[0]);

        // Data-movement nodes behind a quantized tensor share its parameters (graph order is topological).
        var sameAs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            if (!DataMovement.Contains(node.OpType) || node.Input.Count == 0 || !set.Contains(node.Input[0])) continue;
            var output = node.Output[0];
            if (graphOutputs.Contains(output)) continue;
            Add(output);
            sameAs[output] = sameAs.TryGetValue(node.Input[0], out var root) ? root : node.Input[0];
        }
        return (nodes, tensors, sameAs);
    }

    /// <summary>Rewrites a prepared float model; <paramref name="ranges"/> holds the calibrated [min, max] of each planned tensor.</summary>
    public QuantizedModel Quantize(ModelProto prepared, IReadOnlyDictionary<string, (float Min, float Max)> ranges)
    {
        var model = prepared.Clone();
        var graph = model.Graph;
        var (nodes, tensors, sameAs) = Plan(graph);
        var writer = new QdqGraphWriter(graph);
        var activation = ActivationParams(tensors, sameAs, ranges);
        var attentions = FusedAttentionsToQuantize(graph, writer, nodes, sameAs, ranges, activation);
        var quantizedNames = new List<string>();
        var gatherRewrites = QuantizeWeights(nodes, writer, activation, quantizedNames);
        RewriteNodes(graph, writer, nodes, activation, attentions, gatherRewrites, ranges, quantizedNames);
        QdqGraphWriter.RemoveUnusedInitializers(graph);
        // Per-tensor QuantizeLinear/DequantizeLinear exist from opset 10, so a per-tensor model keeps its opset.
        OnnxModelAccess.EnsureOpset(model, "", PerChannel ? GraphPreparation.QuantizationOpset : GraphPreparation.PerTensorQuantizationOpset);
        return new QuantizedModel(model, quantizedNames, activation.Count);
    }

    /// <summary>The int8 parameters of each planned tensor that has a range (a data-movement output takes its source's).</summary>
    static Dictionary<string, QuantParams> ActivationParams(List<string> tensors, Dictionary<string, string> sameAs,
        IReadOnlyDictionary<string, (float Min, float Max)> ranges)
    {
        var activation = new Dictionary<string, QuantParams>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            var source = sameAs.TryGetValue(t, out var root) ? root : t;
            if (!ranges.TryGetValue(source, out var r)) continue;
            activation[t] = QuantizationMath.Int8Activation(r.Min, r.Max);
        }
        return activation;
    }

    /// <summary>
    /// The fused Attentions that become QAttention. An input of theirs that no QDQ node reads gets no Q/DQ pair (removed
    /// from <paramref name="activation"/>): its QuantizeLinear (uint8) is QAttention's own.
    /// </summary>
    HashSet<NodeProto> FusedAttentionsToQuantize(GraphProto graph, QdqGraphWriter writer, List<QuantizableNode> nodes, Dictionary<string, string> sameAs,
        IReadOnlyDictionary<string, (float Min, float Max)> ranges, Dictionary<string, QuantParams> activation)
    {
        var attentions = new HashSet<NodeProto>(graph.Node.Where(n => DynamicInt8Quantizer.IsFusedAttention(n, writer) && !ExcludedNodes.Contains(n.Name)
            && ranges.ContainsKey(n.Input[0])), ReferenceEqualityComparer.Instance);
        var qdqRead = nodes.Where(n => n.Kind != QuantizableKind.GatherEmbedding).SelectMany(n => n.ActivationInputs.Select(i => n.Node.Input[i]))
            .Concat(sameAs.Values).ToHashSet(StringComparer.Ordinal);
        foreach (var a in attentions)
            if (!qdqRead.Contains(a.Input[0])) activation.Remove(a.Input[0]);
        return attentions;
    }

    /// <summary>
    /// Points each node whose activations all have parameters at int8 weights (shared by the nodes that read the same
    /// weight) and an int32 bias; embedding Gathers get an int8 table, and the DequantizeLinear to put after each is returned.
    /// </summary>
    Dictionary<NodeProto, NodeProto> QuantizeWeights(List<QuantizableNode> nodes, QdqGraphWriter writer, Dictionary<string, QuantParams> activation,
        List<string> quantizedNames)
    {
        var weightCache = new Dictionary<string, (string Output, QuantParams Params)>(StringComparer.Ordinal);
        var gatherRewrites = new Dictionary<NodeProto, NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (var q in nodes)
        {
            if (q.Kind == QuantizableKind.GatherEmbedding)
            {
                gatherRewrites[q.Node] = QuantizeGather(writer, q);
                quantizedNames.Add(q.Name);
                continue;
            }
            if (q.ActivationInputs.Any(i => !activation.ContainsKey(q.Node.Input[i]))) continue;
            if (q.WeightInput is { } wi)
            {
                var weightName = q.Node.Input[wi];
                if (!weightCache.TryGetValue(weightName, out var w))
                    weightCache[weightName] = w = WeightDq(writer, weightName, PerChannel ? q.ChannelAxis : null);
                q.Node.Input[wi] = w.Output;
                if (q.BiasInput is { } bi)
                    q.Node.Input[bi] = BiasDq(writer, q.Node.Input[bi], activation[q.Node.Input[q.ActivationInputs[0]]].Scales[0], w.Params);
            }
            quantizedNames.Add(q.Name);
        }
        return gatherRewrites;
    }

    /// <summary>The weight as symmetric int8 (per channel along <paramref name="axis"/>, or per tensor) behind a DequantizeLinear.</summary>
    static (string Output, QuantParams Params) WeightDq(QdqGraphWriter writer, string weightName, int? axis)
    {
        var tensor = writer.Initializer(weightName);
        var dims = OnnxModelAccess.Dims(tensor);
        var (values, p) = QuantizationMath.Int8WeightsSymmetric(OnnxModelAccess.ReadFloats(tensor), dims, axis, QuantizationMath.StaticWeightMax);
        return (writer.WeightDq(weightName, values, dims, p, axis), p);
    }

    /// <summary>The bias as int32 with scale input scale x weight scale, behind a DequantizeLinear.</summary>
    static string BiasDq(QdqGraphWriter writer, string biasName, float inputScale, QuantParams weight)
    {
        var bias = writer.Initializer(biasName);
        var (values, scales) = QuantizationMath.Int32Bias(OnnxModelAccess.ReadFloats(bias), inputScale, weight.Scales);
        // A [1, N] Gemm bias becomes [N]: same broadcast, and per-axis DequantizeLinear needs the channels on axis 0.
        // One weight scale gives one bias scale: a per-tensor DequantizeLinear (no axis, valid before opset 13).
        if (weight.Scales.Length == 1) scales = [scales[0]];
        return writer.BiasDq(biasName, values, scales, [values.Length]);
    }

    /// <summary>
    /// The new node list: the writer's prologue (weight DQs), then each node with an activation Q/DQ pair right after the
    /// producer of each quantized tensor; only quantized and data-movement nodes read the DQ output. Fused Attentions
    /// become QuantizeLinear + QAttention, embedding Gathers get their DequantizeLinear.
    /// </summary>
    static void RewriteNodes(GraphProto graph, QdqGraphWriter writer, List<QuantizableNode> nodes, Dictionary<string, QuantParams> activation,
        HashSet<NodeProto> attentions, Dictionary<NodeProto, NodeProto> gatherRewrites, IReadOnlyDictionary<string, (float Min, float Max)> ranges,
        List<string> quantizedNames)
    {
        var newNodes = new List<NodeProto>(writer.Prologue);
        var replace = new Dictionary<string, string>(StringComparer.Ordinal);
        var pending = activation.Keys.ToHashSet(StringComparer.Ordinal);
        void Emit(string tensor)
        {
            if (!pending.Remove(tensor)) return;
            var (qn, dq, output) = writer.ActivationQdq(tensor, activation[tensor]);
            newNodes.Add(qn); newNodes.Add(dq);
            replace[tensor] = output;
        }
        foreach (var input in graph.Input) Emit(input.Name);
        // Other consumers (a residual Add, say) keep the float tensor, so that path stays exact.
        var readers = nodes.Where(n => n.Kind != QuantizableKind.GatherEmbedding).Select(n => n.Node)
            .Concat(graph.Node.Where(n => DataMovement.Contains(n.OpType))).ToHashSet(ReferenceEqualityComparer.Instance);
        foreach (var node in graph.Node.ToList())
        {
            if (readers.Contains(node))
                for (var i = 0; i < node.Input.Count; i++)
                    if (replace.TryGetValue(node.Input[i], out var r)) node.Input[i] = r;
            if (attentions.Contains(node))
            {
                var (q, quantized) = QuantizeAttentionInput(node, writer, ranges[node.Input[0]]);
                newNodes.Add(q);
                newNodes.Add(quantized);
                quantizedNames.Add(node.Name);
                foreach (var o in node.Output) Emit(o);
                continue;
            }
            if (gatherRewrites.TryGetValue(node, out var dequantize))
            {
                newNodes.Add(node); newNodes.Add(dequantize);
                foreach (var o in dequantize.Output) Emit(o);
                continue;
            }
            newNodes.Add(node);
            foreach (var o in node.Output) Emit(o);
        }
        graph.Node.Clear();
        graph.Node.AddRange(newNodes);
    }

    /// <summary>
    /// QuantizeLinear of the Attention's input to uint8 (asymmetric, the calibrated range widened to hold 0, as QAttention's
    /// u8s8 CPU kernel takes it) and the QAttention that reads it.
    /// </summary>
    static (NodeProto Quantize, NodeProto Attention) QuantizeAttentionInput(NodeProto node, QdqGraphWriter writer, (float Min, float Max) range)
    {
        var min = Math.Min(range.Min, 0f);
        var max = Math.Max(range.Max, 0f);
        var scale = max - min < 1e-12f ? 1f : (max - min) / 255f;
        var zero = (byte)Math.Clamp(Math.Round(-min / scale, MidpointRounding.ToEven), 0, 255);
        var input = node.Input[0];
        var scaleName = writer.AddInitializer(OnnxModelAccess.FloatTensor(input + "_uint8_scale", [scale]));
        var zeroName = writer.AddInitializer(OnnxModelAccess.UInt8Tensor(input + "_uint8_zero_point", [zero]));
        var quantized = writer.Unique(input + "_uint8");
        var q = OnnxModelAccess.Node("QuantizeLinear", writer.Unique(node.Name + "_QuantizeLinear"), [input, scaleName, zeroName], [quantized]);
        return (q, DynamicInt8Quantizer.QAttention(node, writer, quantized, scaleName, zeroName));
    }

    /// <summary>Gather reads an int8 table; a per-tensor DequantizeLinear after it restores float rows.</summary>
    internal static NodeProto QuantizeGather(QdqGraphWriter writer, QuantizableNode q)
    {
        var tableName = q.Node.Input[0];
        var table = writer.Initializer(tableName);
        var dims = OnnxModelAccess.Dims(table);
        var (values, p) = QuantizationMath.Int8WeightsSymmetric(OnnxModelAccess.ReadFloats(table), dims, null);
        var quantizedTable = writer.AddInitializer(OnnxModelAccess.Int8Tensor(tableName + "_quantized", values, dims));
        var scale = writer.AddInitializer(OnnxModelAccess.FloatTensor(tableName + "_scale", [p.Scales[0]]));
        var zero = writer.AddInitializer(OnnxModelAccess.Int8Tensor(tableName + "_zero_point", [0]));
        var output = q.Node.Output[0];
        var gathered = writer.Unique(output + "_quantized");
        q.Node.Input[0] = quantizedTable;
        q.Node.Output[0] = gathered;
        return OnnxModelAccess.Node("DequantizeLinear", writer.Unique(q.Name + "_DequantizeLinear"), [gathered, scale, zero], [output]);
    }

    internal static Dictionary<string, List<NodeProto>> Consumers(GraphProto graph)
    {
        var map = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var input in node.Input.Distinct())
            {
                if (!map.TryGetValue(input, out var list)) map[input] = list = [];
                list.Add(node);
            }
        return map;
    }
}

/// <summary>A quantized model and what was done to it.</summary>
/// <param name="KeptFloatForSpeed">Nodes the form left float because its int8 kernel would be slower (weights int8-stored).</param>
public sealed record QuantizedModel(ModelProto Model, IReadOnlyList<string> QuantizedNodes, int QuantizedActivations)
{
    public IReadOnlyList<string> KeptFloatForSpeed { get; init; } = [];
}
