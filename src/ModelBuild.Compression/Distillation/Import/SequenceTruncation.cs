using Onnx;
using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Import;

/// <summary>
/// Runs a fixed-length token model (input <c>[batch, S]</c> of right-padded ids, exported with S baked into its
/// position table and Reshape constants) on a batch truncated to its longest sequence, as PyTorch training loops do
/// (<c>text_model.truncate_batch</c>). The ONNX graph is not changed: at run time the initializers that span the
/// sequence axis are narrowed to the first L positions (a view, so gradients reach the shared parameter) and the
/// Reshape shape constants' sequence entry becomes L.
/// <para>
/// Which axis of which tensor is the sequence axis is found by propagating it from the input through the graph, with
/// the shapes of one full-length probe run: elementwise ops and Softmax keep it, Transpose/Unsqueeze/Squeeze/Reshape
/// move it, MatMul keeps or contracts it, ReduceSum pools it. Any other op touching it, a ReduceMean/ReduceMax over
/// it, or a graph output that still has it makes the model ineligible (<see cref="TryCreate"/> says why). Truncation
/// is exact only when PAD positions cannot influence the rest (the model masks PAD keys and pools over non-PAD
/// positions); that is a property of the weights' use, not of the shapes, so <see cref="MaxDeviation"/> measures it on
/// real data and callers use truncation only when the outputs agree.
/// </para>
/// </summary>
public sealed class SequenceTruncation
{
    readonly Dictionary<string, int[]> _slices;            // tensor name -> its sequence axes, narrowed to L
    readonly Dictionary<string, int[]> _reshapeEntries;    // shape constant name -> indices of the sequence entries
    readonly Dictionary<long, Dictionary<string, Tensor>> _shapesByLength = new();

    SequenceTruncation(string inputName, long fullLength, long padId, SequenceAxisTrace trace) =>
        (InputName, FullLength, PadId, _slices, _reshapeEntries) = (inputName, fullLength, padId, trace.Slices, trace.ReshapeEntries);

    /// <summary>The token-id graph input.</summary>
    public string InputName { get; }
    /// <summary>The sequence length the graph was exported with (S).</summary>
    public long FullLength { get; }
    /// <summary>The padding id, read from the graph's <c>Equal(input, pad)</c> mask.</summary>
    public long PadId { get; }
    /// <summary>Initializers/constants narrowed along their sequence axis (e.g. the position table).</summary>
    public IReadOnlyDictionary<string, int[]> SlicedTensors => _slices;
    /// <summary>Reshape shape constants whose sequence entry is rewritten, with the entry's index.</summary>
    public IReadOnlyDictionary<string, int[]> ReshapeEntries => _reshapeEntries;

    /// <summary>The truncated length of each row: one past its last non-PAD token (at least 1).</summary>
    public int[] RowLengths(Tensor ids)
    {
        using var scope = torch.NewDisposeScope();
        long s = ids.shape[1];
        var notPad = ids.ne(Kept.Of(PadId)).to_type(ScalarType.Int64);
        // position + 1 where not PAD, else 0; the max per row is the row's length.
        var last = notPad.mul(Kept.Arange(1, s + 1, ScalarType.Int64)).amax(new long[] { 1 });
        return last.clamp_min(Kept.Of(1)).to_type(ScalarType.Int32).data<int>().ToArray();
    }

    /// <summary>Replaces, in a forward pass's value table, the length-dependent tensors for length <paramref name="length"/>.</summary>
    internal void Apply(Dictionary<string, Tensor> values, long length)
    {
        if (length == FullLength) return;
        foreach (var (name, axes) in _slices)
        {
            var t = values[name];
            foreach (var axis in axes) t = t.narrow(axis, 0, length);
            values[name] = t;
        }
        if (!_shapesByLength.TryGetValue(length, out var shapes))
        {
            shapes = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, indices) in _reshapeEntries)
            {
                var entries = OnnxNodeContext.ToLongs(values[name]);
                foreach (var index in indices) entries[index] = length;
                shapes[name] = torch.tensor(entries).DetachFromDisposeScope();
            }
            _shapesByLength[length] = shapes;
        }
        foreach (var (name, shape) in shapes) values[name] = shape;
    }

    /// <summary>
    /// The largest absolute difference between the module's first output on full-length rows and on the same rows in
    /// batches truncated to their longest sequence (rows sorted by length, <paramref name="batchSize"/> per batch),
    /// relative to 1 + |full output|, in eval mode.
    /// </summary>
    public double MaxDeviation(OnnxGraphModule module, Tensor ids, int batchSize = 256)
    {
        bool wasTraining = module.training;
        module.eval();
        try
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var lengths = RowLengths(ids);
            var order = Enumerable.Range(0, lengths.Length).OrderBy(i => lengths[i]).ToArray();
            var output = module.OutputNames[0];
            double worst = 0;
            for (int start = 0; start < order.Length; start += batchSize)
            {
                var rows = order.Skip(start).Take(batchSize).ToArray();
                using var batchScope = torch.NewDisposeScope();
                var x = ids.index_select(0, torch.tensor(rows.Select(r => (long)r).ToArray()));
                long length = rows.Max(r => lengths[r]);
                var full = module.Run(new Dictionary<string, Tensor> { [InputName] = x }, new[] { output })[output];
                var cut = module.Run(new Dictionary<string, Tensor> { [InputName] = x.narrow(1, 0, length) }, new[] { output }, this)[output];
                double d = cut.sub(full).abs().div(full.abs().add(Kept.Of(1), Kept.One)).max().item<float>();
                worst = Math.Max(worst, d);
            }
            return worst;
        }
        finally
        {
            if (wasTraining) module.train();
        }
    }

    /// <summary>
    /// Finds the sequence axis of every tensor from a full-length probe (<paramref name="probeIds"/>, a few rows of the
    /// data). Returns null and the reason when the graph is not a right-padded token model this can truncate.
    /// </summary>
    public static SequenceTruncation? TryCreate(OnnxGraphModule module, Tensor probeIds, out string reason)
    {
        reason = "";
        if (module.InputNames.Count != 1) { reason = "the graph has more than one input"; return null; }
        string input = module.InputNames[0];
        if (FixedLength(module, input, probeIds) is not { } s)
        {
            reason = "the input is not a [batch, fixed length] tensor of token ids";
            return null;
        }
        var nodes = module.PlanNodes.ToList();
        if (FindPadId(module, nodes, input) is not { } padId) { reason = "the graph has no Equal(input, pad id) padding mask"; return null; }

        var trace = new SequenceAxisTrace(module, input, s, ProbeShapes(module, nodes, input, probeIds));
        foreach (var n in nodes)
            if (!trace.TryFollow(n, out var why)) { reason = why; return null; }
        var seqOutput = module.OutputNames.FirstOrDefault(trace.HasSequenceAxis);
        if (seqOutput is not null) { reason = $"the output '{seqOutput}' has a sequence axis"; return null; }
        if (trace.Slices.Count == 0 && trace.ReshapeEntries.Count == 0 && !nodes.Any(n => n.Input.Any(trace.HasSequenceAxis)))
        {
            reason = "no node reads the input";
            return null;
        }
        return new SequenceTruncation(input, s, padId, trace);
    }

    /// <summary>S of a <c>[batch, S]</c> integer input (S fixed and above 1), or null.</summary>
    static long? FixedLength(OnnxGraphModule module, string input, Tensor probeIds)
    {
        var graphInput = module.Model.Graph.Input.First(i => i.Name == input);
        var dims = graphInput.Type?.TensorType?.Shape?.Dim;
        if (dims is null || dims.Count != 2 || dims[1].DimValue <= 1 || probeIds.dim() != 2 || probeIds.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            return null;
        return dims[1].DimValue;
    }

    /// <summary>The scalar constant the input is compared with (<c>Equal(input, pad)</c>, the padding mask); the last such, or null.</summary>
    static long? FindPadId(OnnxGraphModule module, List<NodeProto> nodes, string input)
    {
        long? padId = null;
        foreach (var n in nodes.Where(n => n.OpType == "Equal" && n.Input.Contains(input)))
        {
            var other = n.Input[0] == input ? n.Input[1] : n.Input[0];
            if (module.ConstantValue(other) is { } c && c.numel() == 1) padId = OnnxNodeContext.ToLongs(c)[0];
        }
        return padId;
    }

    /// <summary>Full-length shapes of every value, from one probe run in eval mode.</summary>
    static Dictionary<string, long[]> ProbeShapes(OnnxGraphModule module, List<NodeProto> nodes, string input, Tensor probeIds)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        bool wasTraining = module.training;
        module.eval();
        var names = nodes.SelectMany(n => n.Output).Where(o => o.Length > 0).Distinct().ToList();
        var values = module.Run(new Dictionary<string, Tensor> { [input] = probeIds }, names);
        var shapes = values.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
        shapes[input] = probeIds.shape;
        if (wasTraining) module.train();
        return shapes;
    }
}
