using Onnx;
using TorchSharp;
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

    SequenceTruncation(string inputName, long fullLength, long padId, Dictionary<string, int[]> slices, Dictionary<string, int[]> reshapeEntries)
    {
        InputName = inputName;
        FullLength = fullLength;
        PadId = padId;
        _slices = slices;
        _reshapeEntries = reshapeEntries;
    }

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
        var notPad = ids.ne(PadId).to_type(ScalarType.Int64);
        // position + 1 where not PAD, else 0; the max per row is the row's length.
        var last = notPad.mul(torch.arange(1, s + 1, ScalarType.Int64)).amax(new long[] { 1 });
        return last.clamp_min(1).to_type(ScalarType.Int32).data<int>().ToArray();
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
                double d = cut.sub(full).abs().div(full.abs().add(1)).max().item<float>();
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
        var graphInput = module.Model.Graph.Input.First(i => i.Name == input);
        var dims = graphInput.Type?.TensorType?.Shape?.Dim;
        if (dims is null || dims.Count != 2 || dims[1].DimValue <= 1 || probeIds.dim() != 2 || probeIds.dtype is not (ScalarType.Int64 or ScalarType.Int32))
        {
            reason = "the input is not a [batch, fixed length] tensor of token ids";
            return null;
        }
        long s = dims[1].DimValue;
        var nodes = module.PlanNodes.ToList();
        long? padId = null;
        foreach (var n in nodes.Where(n => n.OpType == "Equal" && n.Input.Contains(input)))
        {
            var other = n.Input[0] == input ? n.Input[1] : n.Input[0];
            if (module.ConstantValue(other) is { } c && c.numel() == 1) padId = OnnxNodeContext.ToLongs(c)[0];
        }
        if (padId is null) { reason = "the graph has no Equal(input, pad id) padding mask"; return null; }

        // Full-length shapes of every value, from one probe run.
        Dictionary<string, long[]> shapes;
        using (var scope = torch.NewDisposeScope())
        using (var noGrad = torch.no_grad())
        {
            bool wasTraining = module.training;
            module.eval();
            var names = nodes.SelectMany(n => n.Output).Where(o => o.Length > 0).Distinct().ToList();
            var values = module.Run(new Dictionary<string, Tensor> { [input] = probeIds }, names);
            shapes = values.ToDictionary(kv => kv.Key, kv => kv.Value.shape, StringComparer.Ordinal);
            shapes[input] = probeIds.shape;
            if (wasTraining) module.train();
        }
        long[] ShapeOf(string name) => shapes.TryGetValue(name, out var sh) ? sh
            : module.ConstantValue(name)?.shape ?? module.ParameterValue(name)?.shape ?? Array.Empty<long>();

        // Each value's sequence axes (attention scores have two: queries and keys).
        var axis = new Dictionary<string, int[]>(StringComparer.Ordinal) { [input] = new[] { 1 } };
        var slices = new Dictionary<string, int[]>(StringComparer.Ordinal);
        var reshapes = new Dictionary<string, int[]>(StringComparer.Ordinal);

        bool Fail(NodeProto n, string why, out string r) { r = $"node '{n.Name}' ({n.OpType}) {why}"; return false; }
        bool Record(Dictionary<string, int[]> table, string name, int[] axes)
        {
            if (table.TryGetValue(name, out var prev)) return prev.SequenceEqual(axes);
            table[name] = axes;
            return true;
        }
        void Set(string name, IEnumerable<int> axes)
        {
            var sorted = axes.Distinct().Order().ToArray();
            if (sorted.Length > 0) axis[name] = sorted;
        }

        bool Propagate(NodeProto n, out string why)
        {
            why = "";
            var seqInputs = n.Input.Select((name, i) => (name, i)).Where(p => p.name.Length > 0 && axis.ContainsKey(p.name)).ToList();
            if (seqInputs.Count == 0) return true;
            var outShape = ShapeOf(n.Output[0]);
            int r = outShape.Length;
            switch (n.OpType)
            {
                case "Add" or "Sub" or "Mul" or "Div" or "Pow" or "Equal" or "Not" or "Cast" or "Erf" or "Sqrt" or "Exp" or "Log"
                    or "Relu" or "Sigmoid" or "Tanh" or "Gelu" or "Where" or "Clip" or "Softmax" or "Dropout"
                    or "Identity" or "Neg" or "Reciprocal" or "LayerNormalization":
                {
                    var outAxes = seqInputs.SelectMany(p => axis[p.name].Select(a => a + r - ShapeOf(p.name).Length)).Distinct().Order().ToArray();
                    if (n.OpType == "LayerNormalization")
                    {
                        long ln = n.Attribute.FirstOrDefault(x => x.Name == "axis")?.I ?? -1;
                        if ((ln < 0 ? ln + r : ln) <= outAxes.Max()) return Fail(n, "normalizes over the sequence axis", out why);
                    }
                    foreach (var name in n.Input.Where(x => x.Length > 0 && !axis.ContainsKey(x)).Distinct())
                    {
                        var sh = ShapeOf(name);
                        var spanned = outAxes.Select(oa => oa - (r - sh.Length)).Where(a => a >= 0 && sh[a] != 1).ToArray();
                        if (spanned.Length == 0) continue;
                        bool constant = module.ConstantValue(name) is not null || module.ParameterValue(name) is not null;
                        if (spanned.Any(a => sh[a] != s) || !constant || !Record(slices, name, spanned))
                            return Fail(n, $"broadcasts '{name}', which spans the sequence but is not a constant", out why);
                    }
                    foreach (var o in n.Output.Where(o => o.Length > 0)) Set(o, outAxes);
                    return true;
                }
                case "Transpose":
                {
                    var perm = n.Attribute.FirstOrDefault(x => x.Name == "perm")?.Ints.ToArray() ?? Enumerable.Range(0, r).Reverse().Select(i => (long)i).ToArray();
                    Set(n.Output[0], axis[n.Input[0]].Select(a => Array.IndexOf(perm, (long)a)));
                    return true;
                }
                case "Unsqueeze" or "Squeeze" or "Reshape":
                {
                    if (seqInputs.Any(p => p.i != 0)) return Fail(n, "takes its shape from the sequence", out why);
                    var inShape = ShapeOf(n.Input[0]);
                    var outAxes = new List<int>();
                    long[]? entries = null;
                    if (n.OpType == "Reshape")
                    {
                        var shapeValue = module.ConstantValue(n.Input[1]);
                        if (shapeValue is null) return Fail(n, "has a computed shape", out why);
                        entries = OnnxNodeContext.ToLongs(shapeValue);
                    }
                    var rewritten = new List<int>();
                    foreach (int a in axis[n.Input[0]])
                    {
                        // The output axis that starts where the input's sequence axis starts (same element prefix) and has its size.
                        long prefix = inShape.Take(a).Aggregate(1L, (p, d) => p * d);
                        int k = -1;
                        long acc = 1;
                        for (int j = 0; j < r; j++)
                        {
                            if (acc == prefix && outShape[j] == s) { k = j; break; }
                            acc *= outShape[j];
                        }
                        if (k < 0) return Fail(n, "merges or splits the sequence axis", out why);
                        if (entries is not null)
                        {
                            if (entries[k] == s) rewritten.Add(k);
                            else if (!(entries[k] == -1 || entries[k] == 0 && k == a)) return Fail(n, "has a shape entry that cannot follow the length", out why);
                        }
                        outAxes.Add(k);
                    }
                    if (rewritten.Count > 0 && !Record(reshapes, n.Input[1], rewritten.ToArray()))
                        return Fail(n, "shares its shape constant with a Reshape of another layout", out why);
                    Set(n.Output[0], outAxes);
                    return true;
                }
                case "ReduceSum" or "ReduceMean" or "ReduceMax":
                {
                    if (seqInputs.Any(p => p.i != 0)) return Fail(n, "takes its axes from the sequence", out why);
                    var inShape = ShapeOf(n.Input[0]);
                    long[]? axes = n.Attribute.FirstOrDefault(x => x.Name == "axes")?.Ints.ToArray();
                    if (axes is null && n.Input.Count > 1 && n.Input[1].Length > 0) axes = module.ConstantValue(n.Input[1]) is { } t ? OnnxNodeContext.ToLongs(t) : null;
                    if (axes is null || axes.Length == 0) axes = Enumerable.Range(0, inShape.Length).Select(i => (long)i).ToArray();
                    var norm = axes.Select(x => (int)(x < 0 ? x + inShape.Length : x)).ToHashSet();
                    bool keep = (n.Attribute.FirstOrDefault(x => x.Name == "keepdims")?.I ?? 1) != 0;
                    var seq = axis[n.Input[0]];
                    // Only a sum pools exactly: PAD positions are zero after masking, but they count in a mean and may win a max.
                    if (seq.Any(norm.Contains) && n.OpType != "ReduceSum") return Fail(n, "averages or maxes over the sequence axis", out why);
                    Set(n.Output[0], seq.Where(a => !norm.Contains(a)).Select(a => keep ? a : a - norm.Count(x => x < a)));
                    return true;
                }
                case "MatMul":
                {
                    var sa = ShapeOf(n.Input[0]); var sb = ShapeOf(n.Input[1]);
                    if (sa.Length < 2 || sb.Length < 2) return Fail(n, "is a vector product", out why);
                    var aa = axis.GetValueOrDefault(n.Input[0]) ?? Array.Empty<int>();
                    var ab = axis.GetValueOrDefault(n.Input[1]) ?? Array.Empty<int>();
                    // The contracted axis (A's last, B's second to last) must be the sequence in both or in neither.
                    if (aa.Contains(sa.Length - 1) != ab.Contains(sb.Length - 2)) return Fail(n, "contracts the sequence against a fixed axis", out why);
                    var outAxes = aa.Where(a => a != sa.Length - 1).Select(a => a == sa.Length - 2 ? r - 2 : a + r - sa.Length)
                        .Concat(ab.Where(b => b != sb.Length - 2).Select(b => b == sb.Length - 1 ? r - 1 : b + r - sb.Length));
                    Set(n.Output[0], outAxes);
                    return true;
                }
                case "Gather":
                {
                    if (seqInputs.Any(p => p.i != 1)) return Fail(n, "gathers from a sequence tensor", out why);
                    long g = n.Attribute.FirstOrDefault(x => x.Name == "axis")?.I ?? 0;
                    int dataRank = ShapeOf(n.Input[0]).Length;
                    Set(n.Output[0], axis[n.Input[1]].Select(a => (int)(g < 0 ? g + dataRank : g) + a));
                    return true;
                }
                default:
                    return Fail(n, "is not one the sequence axis can be traced through", out why);
            }
        }

        foreach (var n in nodes)
        {
            bool ok;
            string why;
            try { ok = Propagate(n, out why); }
            catch (Exception e) when (e is IndexOutOfRangeException or InvalidOperationException or ArgumentException)
            {
                // A shape this analysis did not foresee: not eligible rather than a failed run.
                ok = false;
                why = $"node '{n.Name}' ({n.OpType}) has shapes the sequence analysis does not follow ({e.Message})";
            }
            if (!ok) { reason = why; return null; }
        }
        var seqOutput = module.OutputNames.FirstOrDefault(axis.ContainsKey);
        if (seqOutput is not null) { reason = $"the output '{seqOutput}' has a sequence axis"; return null; }
        if (slices.Count == 0 && reshapes.Count == 0 && !nodes.Any(n => n.Input.Any(axis.ContainsKey)))
        {
            reason = "no node reads the input";
            return null;
        }
        return new SequenceTruncation(input, s, padId.Value, slices, reshapes);
    }
}
