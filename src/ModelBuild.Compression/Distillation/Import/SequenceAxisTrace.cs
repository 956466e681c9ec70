using Onnx;

namespace ModelBuild.Compression.Distillation.Import;

/// <summary>
/// <see cref="SequenceTruncation"/>'s analysis: follows the input's sequence axis node by node (graph order), with the
/// shapes of one full-length probe run, and collects what must follow the length: the constants that span the sequence
/// (narrowed) and the Reshape shape constants' sequence entries (rewritten).
/// </summary>
internal sealed class SequenceAxisTrace
{
    readonly OnnxGraphModule _module;
    readonly long _length;
    readonly Dictionary<string, long[]> _shapes;
    // Each value's sequence axes (attention scores have two: queries and keys).
    readonly Dictionary<string, int[]> _axes;

    public SequenceAxisTrace(OnnxGraphModule module, string input, long length, Dictionary<string, long[]> shapes)
    {
        _module = module;
        _length = length;
        _shapes = shapes;
        _axes = new(StringComparer.Ordinal) { [input] = [1] };
    }

    /// <summary>Constants narrowed along their sequence axes.</summary>
    public Dictionary<string, int[]> Slices { get; } = new(StringComparer.Ordinal);
    /// <summary>Reshape shape constants, with the indices of their sequence entries.</summary>
    public Dictionary<string, int[]> ReshapeEntries { get; } = new(StringComparer.Ordinal);

    public bool HasSequenceAxis(string value) => _axes.ContainsKey(value);

    /// <summary>Follows the axis through one node; false and why when the node could mix positions or depend on the length.</summary>
    public bool TryFollow(NodeProto n, out string why)
    {
        try { return Follow(n, out why); }
        catch (Exception e) when (e is IndexOutOfRangeException or InvalidOperationException or ArgumentException)
        {
            // A shape this analysis did not foresee: not eligible rather than a failed run.
            why = $"node '{n.Name}' ({n.OpType}) has shapes the sequence analysis does not follow ({e.Message})";
            return false;
        }
    }

    bool Follow(NodeProto n, out string why)
    {
        why = "";
        var seqInputs = n.Input.Select((name, i) => (name, i)).Where(p => p.name.Length > 0 && _axes.ContainsKey(p.name)).ToList();
        if (seqInputs.Count == 0) return true;
        var outShape = ShapeOf(n.Output[0]);
        switch (n.OpType)
        {
            case "Add" or "Sub" or "Mul" or "Div" or "Pow" or "Equal" or "Not" or "Cast" or "Erf" or "Sqrt" or "Exp" or "Log"
                or "Relu" or "Sigmoid" or "Tanh" or "Gelu" or "Where" or "Clip" or "Softmax" or "Dropout"
                or "Identity" or "Neg" or "Reciprocal" or "LayerNormalization":
                return Elementwise(n, seqInputs, outShape.Length, out why);
            case "Transpose":
            {
                var perm = n.Attribute.FirstOrDefault(x => x.Name == "perm")?.Ints.ToArray() ?? Enumerable.Range(0, outShape.Length).Reverse().Select(i => (long)i).ToArray();
                Set(n.Output[0], _axes[n.Input[0]].Select(a => Array.IndexOf(perm, (long)a)));
                return true;
            }
            case "Unsqueeze" or "Squeeze" or "Reshape":
                if (seqInputs.Any(p => p.i != 0)) return Fail(n, "takes its shape from the sequence", out why);
                return Reshape(n, outShape, out why);
            case "ReduceSum" or "ReduceMean" or "ReduceMax":
                if (seqInputs.Any(p => p.i != 0)) return Fail(n, "takes its axes from the sequence", out why);
                return Reduce(n, out why);
            case "MatMul":
                return MatMul(n, outShape.Length, out why);
            case "Gather":
            {
                if (seqInputs.Any(p => p.i != 1)) return Fail(n, "gathers from a sequence tensor", out why);
                long g = n.Attribute.FirstOrDefault(x => x.Name == "axis")?.I ?? 0;
                int dataRank = ShapeOf(n.Input[0]).Length;
                Set(n.Output[0], _axes[n.Input[1]].Select(a => (int)(g < 0 ? g + dataRank : g) + a));
                return true;
            }
            default:
                return Fail(n, "is not one the sequence axis can be traced through", out why);
        }
    }

    /// <summary>Elementwise ops, Softmax and LayerNormalization keep the axes (right-aligned); a broadcast operand that spans the sequence must be a constant, narrowed with it.</summary>
    bool Elementwise(NodeProto n, List<(string name, int i)> seqInputs, int r, out string why)
    {
        why = "";
        var outAxes = seqInputs.SelectMany(p => _axes[p.name].Select(a => a + r - ShapeOf(p.name).Length)).Distinct().Order().ToArray();
        if (n.OpType == "LayerNormalization")
        {
            long ln = n.Attribute.FirstOrDefault(x => x.Name == "axis")?.I ?? -1;
            if ((ln < 0 ? ln + r : ln) <= outAxes.Max()) return Fail(n, "normalizes over the sequence axis", out why);
        }
        foreach (var name in n.Input.Where(x => x.Length > 0 && !_axes.ContainsKey(x)).Distinct())
        {
            var sh = ShapeOf(name);
            var spanned = outAxes.Select(oa => oa - (r - sh.Length)).Where(a => a >= 0 && sh[a] != 1).ToArray();
            if (spanned.Length == 0) continue;
            bool constant = _module.ConstantValue(name) is not null || _module.ParameterValue(name) is not null;
            if (spanned.Any(a => sh[a] != _length) || !constant || !Record(Slices, name, spanned))
                return Fail(n, $"broadcasts '{name}', which spans the sequence but is not a constant", out why);
        }
        foreach (var o in n.Output.Where(o => o.Length > 0)) Set(o, outAxes);
        return true;
    }

    /// <summary>Unsqueeze/Squeeze/Reshape move the axis; a Reshape's constant shape entry for it becomes the length.</summary>
    bool Reshape(NodeProto n, long[] outShape, out string why)
    {
        why = "";
        var inShape = ShapeOf(n.Input[0]);
        int r = outShape.Length;
        var outAxes = new List<int>();
        long[]? entries = null;
        if (n.OpType == "Reshape")
        {
            var shapeValue = _module.ConstantValue(n.Input[1]);
            if (shapeValue is null) return Fail(n, "has a computed shape", out why);
            entries = OnnxNodeContext.ToLongs(shapeValue);
        }
        var rewritten = new List<int>();
        foreach (int a in _axes[n.Input[0]])
        {
            // The output axis that starts where the input's sequence axis starts (same element prefix) and has its size.
            long prefix = inShape.Take(a).Aggregate(1L, (p, d) => p * d);
            int k = -1;
            long acc = 1;
            for (int j = 0; j < r; j++)
            {
                if (acc == prefix && outShape[j] == _length) { k = j; break; }
                acc *= outShape[j];
            }
            if (k < 0) return Fail(n, "merges or splits the sequence axis", out why);
            if (entries is not null)
            {
                if (entries[k] == _length) rewritten.Add(k);
                else if (!(entries[k] == -1 || entries[k] == 0 && k == a)) return Fail(n, "has a shape entry that cannot follow the length", out why);
            }
            outAxes.Add(k);
        }
        if (rewritten.Count > 0 && !Record(ReshapeEntries, n.Input[1], rewritten.ToArray()))
            return Fail(n, "shares its shape constant with a Reshape of another layout", out why);
        Set(n.Output[0], outAxes);
        return true;
    }

    /// <summary>A reduction keeps the axes it does not reduce; only a sum may reduce the sequence axis.</summary>
    bool Reduce(NodeProto n, out string why)
    {
        why = "";
        var inShape = ShapeOf(n.Input[0]);
        long[]? axes = n.Attribute.FirstOrDefault(x => x.Name == "axes")?.Ints.ToArray();
        if (axes is null && n.Input.Count > 1 && n.Input[1].Length > 0) axes = _module.ConstantValue(n.Input[1]) is { } t ? OnnxNodeContext.ToLongs(t) : null;
        if (axes is null || axes.Length == 0) axes = Enumerable.Range(0, inShape.Length).Select(i => (long)i).ToArray();
        var norm = axes.Select(x => (int)(x < 0 ? x + inShape.Length : x)).ToHashSet();
        bool keep = (n.Attribute.FirstOrDefault(x => x.Name == "keepdims")?.I ?? 1) != 0;
        var seq = _axes[n.Input[0]];
        // Only a sum pools exactly: PAD positions are zero after masking, but they count in a mean and may win a max.
        if (seq.Any(norm.Contains) && n.OpType != "ReduceSum") return Fail(n, "averages or maxes over the sequence axis", out why);
        Set(n.Output[0], seq.Where(a => !norm.Contains(a)).Select(a => keep ? a : a - norm.Count(x => x < a)));
        return true;
    }

    /// <summary>A MatMul keeps the axes it does not contract, and may contract the sequence only against the sequence.</summary>
    bool MatMul(NodeProto n, int r, out string why)
    {
        why = "";
        var sa = ShapeOf(n.Input[0]); var sb = ShapeOf(n.Input[1]);
        if (sa.Length < 2 || sb.Length < 2) return Fail(n, "is a vector product", out why);
        var aa = _axes.GetValueOrDefault(n.Input[0]) ?? Array.Empty<int>();
        var ab = _axes.GetValueOrDefault(n.Input[1]) ?? Array.Empty<int>();
        // The contracted axis (A's last, B's second to last) must be the sequence in both or in neither.
        if (aa.Contains(sa.Length - 1) != ab.Contains(sb.Length - 2)) return Fail(n, "contracts the sequence against a fixed axis", out why);
        var outAxes = aa.Where(a => a != sa.Length - 1).Select(a => a == sa.Length - 2 ? r - 2 : a + r - sa.Length)
            .Concat(ab.Where(b => b != sb.Length - 2).Select(b => b == sb.Length - 1 ? r - 1 : b + r - sb.Length));
        Set(n.Output[0], outAxes);
        return true;
    }

    long[] ShapeOf(string name) => _shapes.TryGetValue(name, out var sh) ? sh
        : _module.ConstantValue(name)?.shape ?? _module.ParameterValue(name)?.shape ?? Array.Empty<long>();

    static bool Fail(NodeProto n, string why, out string r) { r = $"node '{n.Name}' ({n.OpType}) {why}"; return false; }

    /// <summary>Records a value's axes once; a second, different record means two layouts share it.</summary>
    static bool Record(Dictionary<string, int[]> table, string name, int[] axes)
    {
        if (table.TryGetValue(name, out var prev)) return prev.SequenceEqual(axes);
        table[name] = axes;
        return true;
    }

    void Set(string name, IEnumerable<int> axes)
    {
        var sorted = axes.Distinct().Order().ToArray();
        if (sorted.Length > 0) _axes[name] = sorted;
    }
}
