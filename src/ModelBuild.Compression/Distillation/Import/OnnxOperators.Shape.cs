using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ModelBuild.Compression.Distillation.Import;

// Operators that move, select or create data by shape: Reshape, Slice, Gather, Pad, Range, ...
public static partial class OnnxOperators
{
    static void RegisterShapeOperators(Dictionary<string, OnnxKernel> r)
    {
        r["Shape"] = Shape;
        r["Reshape"] = Reshape;
        r["Flatten"] = Flatten;
        r["Transpose"] = c =>
        {
            var x = c.Input(0);
            long[] perm = c.Ints("perm") ?? Enumerable.Range(0, (int)x.dim()).Reverse().Select(i => (long)i).ToArray();
            return One(x.permute(perm));
        };
        r["Concat"] = c =>
        {
            var inputs = c.Inputs.Where(t => t is not null).Select(t => t!).ToArray();
            long axis = c.Axis(c.Int("axis", 0), inputs[0].dim());
            return One(torch.cat(inputs, axis));
        };
        r["Split"] = Split;
        r["Slice"] = Slice;
        r["Squeeze"] = Squeeze;
        r["Unsqueeze"] = Unsqueeze;
        r["Gather"] = Gather;
        r["Expand"] = c =>
        {
            var x = c.Input(0);
            var shape = BroadcastShapes(x.shape, OnnxNodeContext.ToLongs(c.Input(1)));
            return One(x.expand(shape));
        };
        r["Constant"] = Constant;
        r["ConstantOfShape"] = ConstantOfShape;
        r["Range"] = Range;
        r["Pad"] = Pad;
    }

    static Tensor[] Shape(OnnxNodeContext c)
    {
        var shape = c.Input(0).shape;
        long rank = shape.Length;
        long start = c.Int("start", 0), end = c.Int("end", rank);
        if (start < 0) start += rank;
        if (end < 0) end += rank;
        start = Math.Clamp(start, 0, rank);
        end = Math.Clamp(end, 0, rank);
        var values = shape.Skip((int)start).Take((int)Math.Max(0, end - start)).ToArray();
        return One(torch.tensor(values, dtype: ScalarType.Int64));
    }

    static Tensor[] Reshape(OnnxNodeContext c)
    {
        var x = c.Input(0);
        long[] shape = c.Opset < 5 ? c.Ints("shape")! : OnnxNodeContext.ToLongs(c.Input(1));
        bool allowZero = c.Int("allowzero", 0) != 0;
        shape = (long[])shape.Clone();
        for (int i = 0; i < shape.Length; i++)
            if (shape[i] == 0 && !allowZero) shape[i] = x.shape[i];
        return One(x.reshape(shape));
    }

    static Tensor[] Flatten(OnnxNodeContext c)
    {
        var x = c.Input(0);
        long rank = x.dim();
        long axis = c.Int("axis", 1);
        if (axis < 0) axis += rank;
        long outer = 1, inner = 1;
        for (int i = 0; i < rank; i++) { if (i < axis) outer *= x.shape[i]; else inner *= x.shape[i]; }
        return One(x.reshape(outer, inner));
    }

    static Tensor[] Split(OnnxNodeContext c)
    {
        var x = c.Input(0);
        long axis = c.Axis(c.Int("axis", 0), x.dim());
        long dim = x.shape[axis];
        long[]? sizes = c.Opset >= 13 ? (c.OptionalInput(1) is { } s ? OnnxNodeContext.ToLongs(s) : null) : c.Ints("split");
        if (sizes is null || sizes.Length == 0)
        {
            int n = c.Opset >= 18 && c.HasAttribute("num_outputs") ? (int)c.Int("num_outputs", 0) : c.OutputCount;
            long chunk = (dim + n - 1) / n; // opset 18: the last chunk may be smaller
            sizes = Enumerable.Range(0, n).Select(i => Math.Min(chunk, Math.Max(0, dim - i * chunk))).ToArray();
        }
        return x.split(sizes, axis);
    }

    static Tensor[] Slice(OnnxNodeContext c)
    {
        var x = c.Input(0);
        long[] starts, ends, axes, steps;
        if (c.Opset < 10)
        {
            starts = c.Ints("starts")!; ends = c.Ints("ends")!;
            axes = c.Ints("axes") ?? Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        else
        {
            starts = OnnxNodeContext.ToLongs(c.Input(1)); ends = OnnxNodeContext.ToLongs(c.Input(2));
            axes = c.OptionalInput(3) is { } a ? OnnxNodeContext.ToLongs(a) : Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps = c.OptionalInput(4) is { } s ? OnnxNodeContext.ToLongs(s) : Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        var y = x;
        for (int i = 0; i < starts.Length; i++)
        {
            long axis = c.Axis(axes[i], x.dim());
            long dim = x.shape[axis];
            long step = steps[i];
            if (step == 0) throw new InvalidOperationException($"Node '{c.Node.Name}' (Slice): step 0.");
            long start = starts[i], end = ends[i];
            // Math.Max first so that long.MinValue (a common 'to the start' sentinel) cannot overflow.
            if (start < 0) start = Math.Max(start, -dim - 1) + dim;
            if (end < 0) end = Math.Max(end, -dim - 1) + dim;
            if (step > 0)
            {
                start = Math.Clamp(start, 0, dim);
                end = Math.Clamp(end, 0, dim);
                y = end <= start ? y.slice(axis, start, start, 1) : y.slice(axis, start, end, step);
            }
            else
            {
                start = Math.Clamp(start, 0, dim - 1);
                end = Math.Clamp(end, -1, dim - 1);
                var idx = end >= start ? torch.empty(0, ScalarType.Int64) : Kept.Arange(start, end, ScalarType.Int64, step);
                y = y.index_select(axis, idx);
            }
        }
        return One(ReferenceEquals(y, x) ? x.alias() : y);
    }

    static long[]? AxesOf(OnnxNodeContext c, int attributeBeforeOpset)
    {
        if (c.Opset < attributeBeforeOpset) return c.Ints("axes");
        return c.OptionalInput(1) is { } a ? OnnxNodeContext.ToLongs(a) : null;
    }

    static Tensor[] Squeeze(OnnxNodeContext c)
    {
        var x = c.Input(0);
        var axes = AxesOf(c, 13);
        if (axes is null || axes.Length == 0)
        {
            var keep = x.shape.Where(d => d != 1).ToArray();
            return One(x.reshape(keep));
        }
        var norm = axes.Select(a => c.Axis(a, x.dim())).ToHashSet();
        return One(x.reshape(x.shape.Where((d, i) => !norm.Contains(i)).ToArray()));
    }

    static Tensor[] Unsqueeze(OnnxNodeContext c)
    {
        var x = c.Input(0);
        var axes = AxesOf(c, 13) ?? throw new InvalidOperationException($"Node '{c.Node.Name}' (Unsqueeze) has no axes.");
        long outRank = x.dim() + axes.Length;
        var norm = axes.Select(a => a < 0 ? a + outRank : a).ToHashSet();
        var shape = new long[outRank];
        int j = 0;
        for (int i = 0; i < outRank; i++) shape[i] = norm.Contains(i) ? 1 : x.shape[j++];
        return One(x.reshape(shape));
    }

    static Tensor[] Gather(OnnxNodeContext c)
    {
        var x = c.Input(0); var indices = c.Input(1);
        long axis = c.Axis(c.Int("axis", 0), x.dim());
        long dim = x.shape[axis];
        var idx = indices.to_type(ScalarType.Int64);
        idx = torch.where(idx.lt(Kept.Of(0)), idx.add(Kept.Of(dim), Kept.One), idx);
        var picked = x.index_select(axis, idx.flatten());
        var shape = x.shape.Take((int)axis).Concat(indices.shape).Concat(x.shape.Skip((int)axis + 1)).ToArray();
        return One(picked.reshape(shape));
    }

    static Tensor[] Constant(OnnxNodeContext c)
    {
        var n = c.Node;
        if (c.Attribute("value") is { } v) return One(c.ComputeTensor(TensorProtoConverter.ToTensor(v.T)));
        if (c.Attribute("value_float") is { } f) return One(torch.tensor(f.F, ScalarType.Float32));
        if (c.Attribute("value_floats") is { } fs) return One(torch.tensor(fs.Floats.ToArray(), ScalarType.Float32));
        if (c.Attribute("value_int") is { } i) return One(torch.tensor(i.I, ScalarType.Int64));
        if (c.Attribute("value_ints") is { } iv) return One(torch.tensor(iv.Ints.ToArray(), ScalarType.Int64));
        throw new NotSupportedException($"Constant node '{n.Name}' has no numeric value attribute (sparse and string constants are not supported).");
    }

    static Tensor[] ConstantOfShape(OnnxNodeContext c)
    {
        long[] shape = OnnxNodeContext.ToLongs(c.Input(0));
        if (c.Attribute("value") is { } v)
        {
            using var value = c.ComputeTensor(TensorProtoConverter.ToTensor(v.T));
            return One(value.reshape(Array.Empty<long>()).expand(shape).contiguous());
        }
        return One(torch.zeros(shape, ScalarType.Float32));
    }

    static Tensor[] Range(OnnxNodeContext c)
    {
        var start = c.Input(0);
        var type = start.dtype;
        if (IsFloating(start))
        {
            double s = OnnxNodeContext.ToDouble(start), l = OnnxNodeContext.ToDouble(c.Input(1)), d = OnnxNodeContext.ToDouble(c.Input(2));
            long n = Math.Max((long)Math.Ceiling((l - s) / d), 0);
            // start + i * delta, as the ONNX definition computes it (repeated addition would drift differently).
            using Scalar delta = d.ToScalar(), first = s.ToScalar(); // inputs the graph may compute: not kept
            return One(Kept.Arange(0, n, ScalarType.Float64).mul(delta).add(first, Kept.One).to_type(type));
        }
        long si = OnnxNodeContext.ToLongs(start)[0], li = OnnxNodeContext.ToLongs(c.Input(1))[0], di = OnnxNodeContext.ToLongs(c.Input(2))[0];
        long count = Math.Max((long)Math.Ceiling((double)(li - si) / di), 0);
        using Scalar by = di.ToScalar(), from = si.ToScalar();
        return One(Kept.Arange(0, count, ScalarType.Int64).mul(by).add(from, Kept.One).to_type(type));
    }

    static Tensor[] Pad(OnnxNodeContext c)
    {
        var x = c.Input(0);
        long rank = x.dim();
        string mode = c.String("mode", "constant");
        long[] pads;
        double value = 0;
        long[] axes;
        if (c.Opset < 11)
        {
            pads = c.Ints("pads") ?? c.Ints("paddings")!;
            value = c.Float("value", 0f);
            axes = Enumerable.Range(0, (int)rank).Select(i => (long)i).ToArray();
        }
        else
        {
            pads = OnnxNodeContext.ToLongs(c.Input(1));
            if (c.OptionalInput(2) is { } v && v.numel() > 0) value = OnnxNodeContext.ToDouble(v);
            axes = c.Opset >= 18 && c.OptionalInput(3) is { } a
                ? OnnxNodeContext.ToLongs(a).Select(ax => c.Axis(ax, rank)).ToArray()
                : Enumerable.Range(0, (int)rank).Select(i => (long)i).ToArray();
        }
        int n = axes.Length;
        var begin = new long[rank]; var end = new long[rank];
        for (int i = 0; i < n; i++) { begin[axes[i]] = pads[i]; end[axes[i]] = pads[i + n]; }

        if (mode == "constant")
        {
            // torch's pad takes (last dim begin, last dim end, ..., first dim begin, first dim end); negative pads crop.
            var tp = new long[2 * rank];
            for (int d = 0; d < rank; d++) { tp[2 * d] = begin[rank - 1 - d]; tp[2 * d + 1] = end[rank - 1 - d]; }
            return One(F.pad(x, tp, PaddingModes.Constant, value));
        }
        // reflect / edge / wrap on any axis: gather along each padded axis with computed source indices.
        var y = x;
        for (int d = 0; d < rank; d++)
        {
            if (begin[d] == 0 && end[d] == 0) continue;
            long size = y.shape[d];
            long outSize = size + begin[d] + end[d];
            var idx = new long[outSize];
            for (long o = 0; o < outSize; o++)
            {
                long i = o - begin[d];
                idx[o] = mode switch
                {
                    "edge" => Math.Clamp(i, 0, size - 1),
                    "wrap" => ((i % size) + size) % size,
                    "reflect" => Reflect(i, size),
                    _ => throw new NotSupportedException($"Pad mode '{mode}' in node '{c.Node.Name}'."),
                };
            }
            y = y.index_select(d, torch.tensor(idx, ScalarType.Int64));
        }
        return One(ReferenceEquals(y, x) ? x.alias() : y);
    }

    static long Reflect(long i, long size)
    {
        if (size == 1) return 0;
        long period = 2 * (size - 1);
        long m = ((i % period) + period) % period;
        return m < size ? m : period - m;
    }
}
