using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;
using Onnx;
using D = ModelBuild.Onnx.Shapes.SymbolicDim;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Onnx.Shapes;

/// <summary>
/// Per-operator type and shape rules (ai.onnx domain), following the ONNX operator specs. Each rule sets what
/// it can; an input with unknown rank makes the output rank unknown rather than wrong.
/// </summary>
public static class OperatorShapeRules
{
    private const int Float = (int)DataType.Float;
    private const int Int64 = (int)DataType.Int64;
    private const int Int32 = (int)DataType.Int32;
    private const int Bool = (int)DataType.Bool;
    private const int Uint8 = (int)DataType.Uint8;

    private static readonly HashSet<string> Unary = new(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Erf", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Softplus",
        "Softsign", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "Gelu", "Mish", "ThresholdedRelu", "Softmax",
        "LogSoftmax", "Hardmax", "Identity", "Clip", "Not", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Tan",
        "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "InstanceNormalization", "LRN",
        "MeanVarianceNormalization", "CumSum", "Trilu", "ImageScaler", "Affine", "Shrink", "BitwiseNot",
    };

    private static readonly HashSet<string> BroadcastSameType = new(StringComparer.Ordinal)
    {
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "PRelu", "BitShift",
        "BitwiseAnd", "BitwiseOr", "BitwiseXor",
    };

    private static readonly HashSet<string> BroadcastBool = new(StringComparer.Ordinal)
    {
        "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor",
    };

    /// <summary>Applies the rule for the node's operator; false when the operator has no rule.</summary>
    public static bool Apply(ShapeInferenceContext c)
    {
        string op = c.Node.OpType;
        try
        {
            if (Unary.Contains(op)) { UnaryRule(c); return true; }
            if (BroadcastSameType.Contains(op)) { BroadcastRule(c, resultType: null); return true; }
            if (BroadcastBool.Contains(op)) { BroadcastRule(c, resultType: Bool); return true; }
            switch (op)
            {
                case "IsNaN": case "IsInf": SameShape(c, Bool); return true;
                case "Cast": CastRule(c); return true;
                case "CastLike": SameShape(c, c.Input(1)?.ElementType ?? 0, keepValues: true); return true;
                case "Dropout": DropoutRule(c); return true;
                case "BatchNormalization": BatchNormRule(c); return true;
                case "LayerNormalization": LayerNormRule(c); return true;
                case "Where": WhereRule(c); return true;
                case "MatMul": MatMulRule(c, c.Input(0)?.ElementType ?? 0); return true;
                case "MatMulInteger": MatMulRule(c, Int32); return true;
                case "QLinearMatMul": MatMulRule(c, c.Input(7)?.ElementType ?? 0, bIndex: 3); return true;
                case "Gemm": GemmRule(c); return true;
                case "Conv": ConvRule(c, c.Input(0)?.ElementType ?? 0, weightIndex: 1); return true;
                case "ConvInteger": ConvRule(c, Int32, weightIndex: 1); return true;
                case "QLinearConv": ConvRule(c, c.Input(7)?.ElementType ?? 0, weightIndex: 3); return true;
                case "ConvTranspose": ConvTransposeRule(c); return true;
                case "MaxPool": case "AveragePool": case "LpPool": PoolRule(c); return true;
                case "GlobalAveragePool": case "GlobalMaxPool": case "GlobalLpPool": GlobalPoolRule(c); return true;
                case "Flatten": FlattenRule(c); return true;
                case "Reshape": ReshapeRule(c); return true;
                case "Transpose": TransposeRule(c); return true;
                case "Concat": ConcatRule(c); return true;
                case "Split": SplitRule(c); return true;
                case "Slice": SliceRule(c); return true;
                case "Squeeze": SqueezeRule(c); return true;
                case "Unsqueeze": UnsqueezeRule(c); return true;
                case "Gather": GatherRule(c); return true;
                case "Shape": ShapeRule(c); return true;
                case "Size": c.SetOutput(0, Int64, [], c.Input(0)?.Shape is { } s && ShapeMath.Product(s) is { IsKnown: true } p ? [p] : null); return true;
                case "Expand": ExpandRule(c); return true;
                case "Tile": TileRule(c); return true;
                case "Constant": ConstantRule(c); return true;
                case "ConstantOfShape": ConstantOfShapeRule(c); return true;
                case "Pad": PadRule(c); return true;
                case "ReduceMean": case "ReduceSum": case "ReduceMax": case "ReduceMin": case "ReduceProd":
                case "ReduceL1": case "ReduceL2": case "ReduceLogSum": case "ReduceLogSumExp": case "ReduceSumSquare":
                    ReduceRule(c); return true;
                case "ArgMax": case "ArgMin": ArgRule(c); return true;
                case "QuantizeLinear": QuantizeRule(c); return true;
                case "DequantizeLinear": SameShape(c, c.Input(1)?.ElementType is > 0 and var t ? t : Float); return true;
                case "DynamicQuantizeLinear": DynamicQuantizeRule(c); return true;
                case "Range": RangeRule(c); return true;
                case "Resize": case "Upsample": ResizeRule(c); return true;
                case "TopK": TopKRule(c); return true;
                case "Crop": CropRule(c); return true;
                case "Einsum": return false;
                default: return false;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A malformed node (bad axis, inconsistent attributes): leave its outputs unknown rather than fail,
            // and say so in the result.
            c.Outputs.Clear();
            c.Failure = $"{(c.Node.Name.Length > 0 ? c.Node.Name : c.Node.OpType)}: {e.Message}";
            return true;
        }
    }

    private static int TypeOf(ShapeInferenceContext c, int input) => c.Input(input)?.ElementType ?? 0;

    private static void SameShape(ShapeInferenceContext c, int elementType, bool keepValues = false)
    {
        var x = c.Input(0);
        c.SetOutput(0, elementType, x?.Shape, keepValues ? x?.Values : null);
    }

    private static void UnaryRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        bool passValues = c.Node.OpType == "Identity";
        c.SetOutput(0, x?.ElementType ?? 0, x?.Shape, passValues ? x?.Values : null);
    }

    private static void CastRule(ShapeInferenceContext c)
    {
        int to = (int)c.Node.GetInt("to", 0);
        var x = c.Input(0);
        bool ints = ShapeInference.IsInteger(to) && x?.Values is not null && to != Bool;
        c.SetOutput(0, to, x?.Shape, ints ? x!.Values : null);
    }

    private static void DropoutRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        c.SetOutput(0, x?.ElementType ?? 0, x?.Shape);
        // Dropout-7..9 returns the mask in the input's type; from opset 10 it is bool.
        c.SetOutput(1, c.Opset < 10 ? x?.ElementType ?? 0 : Bool, x?.Shape);
    }

    private static void BatchNormRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        c.SetOutput(0, x?.ElementType ?? 0, x?.Shape);
        var scale = c.Input(1);
        for (int i = 1; i < 5; i++)
        {
            c.SetOutput(i, c.Input(i == 1 || i == 3 ? 3 : 4)?.ElementType ?? x?.ElementType ?? 0, scale?.Shape);
        }
    }

    private static void LayerNormRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        c.SetOutput(0, x?.ElementType ?? 0, x?.Shape);
        if (x?.Shape is { } shape)
        {
            int axis = ShapeMath.NormalizeAxis(c.Node.GetInt("axis", -1), shape.Length);
            var reduced = shape.Take(axis).Concat(Enumerable.Repeat(D.Known(1), shape.Length - axis)).ToArray();
            int stash = (int)c.Node.GetInt("stash_type", Float);
            c.SetOutput(1, stash, reduced);
            c.SetOutput(2, stash, reduced);
        }
    }

    private static void BroadcastRule(ShapeInferenceContext c, int? resultType)
    {
        SymbolicDim[]? shape = [];
        int type = 0;
        for (int i = 0; i < c.InputCount; i++)
        {
            var v = c.Input(i);
            if (i == 0) type = v?.ElementType ?? 0;
            shape = v?.Shape is { } s && shape is not null ? ShapeMath.Broadcast(shape, s) : null;
        }
        if (c.Node.OpType is "PRelu" && c.Input(0)?.Shape is { } xs)
        {
            shape = xs; // the slope broadcasts to X; the output is X's shape
        }
        c.SetOutput(0, resultType ?? type, c.InputCount == 0 ? null : shape, EvaluateValues(c));
    }

    /// <summary>Elementwise arithmetic on small integer constants (shape computations in exported graphs).</summary>
    private static SymbolicDim[]? EvaluateValues(ShapeInferenceContext c)
    {
        if (c.InputCount != 2 || c.Input(0)?.Values is not { } a || c.Input(1)?.Values is not { } b)
        {
            return null;
        }
        int n = Math.Max(a.Length, b.Length);
        if ((a.Length != n && a.Length != 1) || (b.Length != n && b.Length != 1))
        {
            return null;
        }
        var result = new SymbolicDim[n];
        for (int i = 0; i < n; i++)
        {
            var x = a[a.Length == 1 ? 0 : i];
            var y = b[b.Length == 1 ? 0 : i];
            result[i] = c.Node.OpType switch
            {
                "Mul" => ShapeMath.Multiply(x, y),
                "Add" => ShapeMath.Sum(x, y),
                "Sub" => x.Minus(y),
                "Div" when x.IsKnown && y.IsKnown && y.Value != 0 => D.Known(ShapeMath.FloorDiv(x.Value, y.Value)),
                "Div" when y.IsKnown && y.Value == 1 => x,
                "Max" when x.IsKnown && y.IsKnown => D.Known(Math.Max(x.Value, y.Value)),
                "Min" when x.IsKnown && y.IsKnown => D.Known(Math.Min(x.Value, y.Value)),
                "Equal" when x.IsKnown && y.IsKnown => D.Known(x.Value == y.Value ? 1 : 0),
                "Equal" when x.IsSymbol && x.Offset >= 0 && y.IsKnown && y.Value < 0 => D.Known(0), // a size is never negative
                _ => D.Unknown,
            };
        }
        return result;
    }

    private static void WhereRule(ShapeInferenceContext c)
    {
        var cond = c.Input(0)?.Shape;
        var x = c.Input(1);
        var y = c.Input(2);
        SymbolicDim[]? shape = cond is not null && x?.Shape is not null && y?.Shape is not null
            ? ShapeMath.Broadcast(ShapeMath.Broadcast(cond, x.Shape), y.Shape)
            : null;
        SymbolicDim[]? values = null;
        if (c.Input(0)?.KnownValues is { } cv && x?.Values is { } xv && y?.Values is { } yv
            && xv.Length == cv.Length && yv.Length == cv.Length)
        {
            values = cv.Select((flag, i) => flag != 0 ? xv[i] : yv[i]).ToArray();
        }
        c.SetOutput(0, x?.ElementType ?? y?.ElementType ?? 0, shape, values);
    }

    private static void MatMulRule(ShapeInferenceContext c, int type, int bIndex = 1)
    {
        var a = c.Input(0)?.Shape;
        var b = c.Input(bIndex)?.Shape;
        if (a is null || b is null || a.Length == 0 || b.Length == 0)
        {
            c.SetOutput(0, type, null);
            return;
        }
        var a2 = a.Length == 1 ? new[] { D.Known(1), a[0] } : a;
        var b2 = b.Length == 1 ? new[] { b[0], D.Known(1) } : b;
        var batch = ShapeMath.Broadcast(a2[..^2], b2[..^2]);
        var result = batch.ToList();
        if (a.Length > 1) result.Add(a2[^2]);
        if (b.Length > 1) result.Add(b2[^1]);
        c.SetOutput(0, type, result.ToArray());
    }

    private static void GemmRule(ShapeInferenceContext c)
    {
        var a = c.Input(0)?.Shape;
        var b = c.Input(1)?.Shape;
        int type = TypeOf(c, 0);
        if (a is not { Length: 2 } || b is not { Length: 2 })
        {
            c.SetOutput(0, type, null);
            return;
        }
        var m = c.Node.GetInt("transA", 0) != 0 ? a[1] : a[0];
        var n = c.Node.GetInt("transB", 0) != 0 ? b[0] : b[1];
        c.SetOutput(0, type, [m, n]);
    }

    private static (long[] Pads, long[] Strides, long[] Dilations, string AutoPad) WindowAttributes(NodeProto node, int spatial)
    {
        long[] pads = node.GetInts("pads") ?? new long[2 * spatial];
        long[] strides = node.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        long[] dilations = node.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        string autoPad = node.GetString("auto_pad", "NOTSET");
        return (pads, strides, dilations, autoPad);
    }

    private static void ConvRule(ShapeInferenceContext c, int type, int weightIndex)
    {
        var x = c.Input(0)?.Shape;
        var w = c.Input(weightIndex)?.Shape;
        if (x is null || x.Length < 3)
        {
            c.SetOutput(0, type, null);
            return;
        }
        int spatial = x.Length - 2;
        long[]? kernel = c.Node.GetInts("kernel_shape");
        if (kernel is null && w is not null && w.Length == x.Length && w.Skip(2).All(d => d.IsKnown))
        {
            kernel = w.Skip(2).Select(d => d.Value).ToArray();
        }
        var (pads, strides, dilations, autoPad) = WindowAttributes(c.Node, spatial);
        var output = new List<SymbolicDim> { x[0], w is not null && w.Length > 0 ? w[0] : D.Unknown };
        for (int i = 0; i < spatial; i++)
        {
            output.Add(kernel is null ? D.Unknown
                : ShapeMath.WindowOutput(x[2 + i], kernel[i], strides[i], dilations[i], pads[i], pads[i + spatial], autoPad, ceilMode: false));
        }
        c.SetOutput(0, type, output.ToArray());
    }

    private static void ConvTransposeRule(ShapeInferenceContext c)
    {
        var x = c.Input(0)?.Shape;
        var w = c.Input(1)?.Shape;
        int type = TypeOf(c, 0);
        if (x is null || x.Length < 3 || w is null || w.Length != x.Length)
        {
            c.SetOutput(0, type, null);
            return;
        }
        int spatial = x.Length - 2;
        long group = c.Node.GetInt("group", 1);
        long[]? kernel = c.Node.GetInts("kernel_shape") ?? (w.Skip(2).All(d => d.IsKnown) ? w.Skip(2).Select(d => d.Value).ToArray() : null);
        var (pads, strides, dilations, autoPad) = WindowAttributes(c.Node, spatial);
        long[] outputPadding = c.Node.GetInts("output_padding") ?? new long[spatial];
        long[]? outputShape = c.Node.GetInts("output_shape");
        var output = new List<SymbolicDim> { x[0], w[1].IsKnown ? D.Known(w[1].Value * group) : D.Unknown };
        for (int i = 0; i < spatial; i++)
        {
            if (outputShape is not null)
            {
                output.Add(D.Known(outputShape[outputShape.Length - spatial + i]));
                continue;
            }
            if (!x[2 + i].IsKnown || kernel is null)
            {
                output.Add(D.Unknown);
                continue;
            }
            long n = x[2 + i].Value;
            if (autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                output.Add(D.Known(n * strides[i]));
                continue;
            }
            long padTotal = autoPad == "VALID" ? 0 : pads[i] + pads[i + spatial];
            output.Add(D.Known(strides[i] * (n - 1) + outputPadding[i] + (kernel[i] - 1) * dilations[i] + 1 - padTotal));
        }
        c.SetOutput(0, type, output.ToArray());
    }

    private static void PoolRule(ShapeInferenceContext c)
    {
        var x = c.Input(0)?.Shape;
        int type = TypeOf(c, 0);
        long[]? kernel = c.Node.GetInts("kernel_shape");
        if (x is null || x.Length < 3 || kernel is null)
        {
            c.SetOutput(0, type, null);
            return;
        }
        int spatial = x.Length - 2;
        var (pads, strides, dilations, autoPad) = WindowAttributes(c.Node, spatial);
        bool ceil = c.Node.GetInt("ceil_mode", 0) != 0;
        var output = new List<SymbolicDim> { x[0], x[1] };
        for (int i = 0; i < spatial; i++)
        {
            output.Add(ShapeMath.WindowOutput(x[2 + i], kernel[i], strides[i], dilations[i], pads[i], pads[i + spatial], autoPad, ceil));
        }
        c.SetOutput(0, type, output.ToArray());
        c.SetOutput(1, Int64, output.ToArray());
    }

    /// <summary>Output 0 has input 0's type and a shape computed from input 0's; unknown when that is.</summary>
    private static void FromInputShape(ShapeInferenceContext c, Func<D[], D[]> shape)
    {
        var x = c.Input(0)?.Shape;
        c.SetOutput(0, TypeOf(c, 0), x is null ? null : shape(x));
    }

    private static void GlobalPoolRule(ShapeInferenceContext c) =>
        FromInputShape(c, x => x.Take(2).Concat(Enumerable.Repeat(D.Known(1), x.Length - 2)).ToArray());

    private static void FlattenRule(ShapeInferenceContext c) => FromInputShape(c, x =>
    {
        long axis = c.Node.GetInt("axis", 1);
        int a = (int)(axis < 0 ? axis + x.Length : axis);
        return [ShapeMath.Product(x.Take(a)), ShapeMath.Product(x.Skip(a))];
    });

    private static void ReshapeRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        int type = x?.ElementType ?? 0;
        var target = c.Input(1)?.Values ?? c.Node.GetInts("shape")?.Select(D.Known).ToArray();
        if (target is null)
        {
            // Rank is still known when the shape tensor's length is.
            c.SetOutput(0, type, c.Input(1)?.Shape is [{ IsKnown: true } len] ? Enumerable.Repeat(D.Unknown, (int)len.Value).ToArray() : null);
            return;
        }
        bool allowZero = c.Node.GetInt("allowzero", 0) != 0;
        var input = x?.Shape;
        var output = new SymbolicDim[target.Length];
        int inferIndex = -1;
        for (int i = 0; i < target.Length; i++)
        {
            var t = target[i];
            if (t.IsKnown && t.Value == 0 && !allowZero)
            {
                output[i] = input is not null && i < input.Length ? input[i] : D.Unknown;
            }
            else if (t.IsKnown && t.Value == -1)
            {
                inferIndex = i;
                output[i] = D.Unknown;
            }
            else
            {
                output[i] = t.IsKnown || t.IsSymbol ? t : D.Unknown;
            }
        }
        if (inferIndex >= 0 && input is not null)
        {
            output[inferIndex] = SolveMissingDim(input, output.Where((_, i) => i != inferIndex));
        }
        c.SetOutput(0, type, output, x?.Values is not null && output.Length == 1 ? x.Values : null);
    }

    /// <summary>The -1 of a Reshape: input elements / other output dims, cancelling matching symbols.</summary>
    private static SymbolicDim SolveMissingDim(IEnumerable<SymbolicDim> input, IEnumerable<SymbolicDim> others)
    {
        long inKnown = 1, outKnown = 1;
        var inSymbols = new List<SymbolicDim>();
        foreach (var d in input)
        {
            if (d.IsKnown) inKnown *= d.Value;
            else if (d.IsSymbol) inSymbols.Add(d);
            else return D.Unknown;
        }
        foreach (var d in others)
        {
            if (d.IsKnown) outKnown *= d.Value;
            else if (d.IsSymbol && inSymbols.Remove(d)) { }
            else return D.Unknown;
        }
        if (outKnown == 0 || inKnown % outKnown != 0) return D.Unknown;
        long ratio = inKnown / outKnown;
        if (inSymbols.Count == 0) return D.Known(ratio);
        if (inSymbols.Count == 1 && ratio == 1) return inSymbols[0];
        return D.Unknown;
    }

    private static void TransposeRule(ShapeInferenceContext c) => FromInputShape(c, x =>
    {
        long[] perm = c.Node.GetInts("perm") ?? Enumerable.Range(0, x.Length).Reverse().Select(i => (long)i).ToArray();
        return perm.Select(p => x[p]).ToArray();
    });

    private static void ConcatRule(ShapeInferenceContext c)
    {
        var inputs = Enumerable.Range(0, c.InputCount).Select(c.Input).ToList();
        int type = inputs.FirstOrDefault(v => v is not null && v.ElementType != 0)?.ElementType ?? 0;
        if (inputs.Any(v => v?.Shape is null))
        {
            c.SetOutput(0, type, null);
            return;
        }
        int rank = inputs[0]!.Shape!.Length;
        int axis = ShapeMath.NormalizeAxis(c.Node.GetInt("axis", 0), rank);
        var output = new SymbolicDim[rank];
        for (int d = 0; d < rank; d++)
        {
            if (d == axis)
            {
                var dims = inputs.Select(v => v!.Shape![d]).ToList();
                output[d] = dims.Aggregate(ShapeMath.Sum);
            }
            else
            {
                output[d] = inputs.Select(v => v!.Shape![d]).Aggregate((p, q) => p.IsKnown ? p : q.IsKnown ? q : p.IsSymbol ? p : q);
            }
        }
        SymbolicDim[]? values = rank == 1 && inputs.All(v => v!.Values is not null) ? inputs.SelectMany(v => v!.Values!).ToArray() : null;
        c.SetOutput(0, type, output, values);
    }

    private static void SplitRule(ShapeInferenceContext c)
    {
        var x = c.Input(0)?.Shape;
        int type = TypeOf(c, 0);
        int outputs = c.Node.Output.Count;
        if (x is null)
        {
            for (int i = 0; i < outputs; i++) c.SetOutput(i, type, null);
            return;
        }
        int axis = ShapeMath.NormalizeAxis(c.Node.GetInt("axis", 0), x.Length);
        long[]? split = c.Node.GetInts("split") ?? (c.HasInput(1) ? c.ConstInts(1) : null);
        bool splitUnknown = split is null && c.HasInput(1);
        for (int i = 0; i < outputs; i++)
        {
            var shape = (SymbolicDim[])x.Clone();
            if (splitUnknown)
            {
                shape[axis] = D.Unknown;
            }
            else if (split is not null)
            {
                shape[axis] = D.Known(split[i]);
            }
            else if (x[axis].IsKnown)
            {
                long n = x[axis].Value;
                long chunk = ShapeMath.CeilDiv(n, outputs);
                shape[axis] = D.Known(Math.Max(0, Math.Min(chunk, n - chunk * i)));
            }
            else
            {
                shape[axis] = D.Unknown;
            }
            c.SetOutput(i, type, shape);
        }
    }

    private static void SliceRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        int type = x?.ElementType ?? 0;
        var shape = x?.Shape;
        SymbolicDim[]? starts, ends;
        long[]? axes, steps;
        if (c.Node.HasAttribute("starts"))
        {
            starts = c.Node.GetInts("starts")?.Select(D.Known).ToArray();
            ends = c.Node.GetInts("ends")?.Select(D.Known).ToArray();
            axes = c.Node.GetInts("axes");
            steps = null;
        }
        else
        {
            starts = c.Input(1)?.Values;
            ends = c.Input(2)?.Values;
            axes = c.HasInput(3) ? c.ConstInts(3) : null;
            steps = c.HasInput(4) ? c.ConstInts(4) : null;
            if ((c.HasInput(3) && axes is null) || (c.HasInput(4) && steps is null))
            {
                starts = null;
            }
        }
        if (shape is null || starts is null || ends is null || starts.Length != ends.Length)
        {
            c.SetOutput(0, type, shape is null ? null : Enumerable.Repeat(D.Unknown, shape.Length).ToArray());
            return;
        }
        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        steps ??= Enumerable.Repeat(1L, starts.Length).ToArray();
        var output = (SymbolicDim[])shape.Clone();
        var ranges = new (long Start, long End, long Step)?[shape.Length];
        var sliced = new bool[shape.Length];
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = ShapeMath.NormalizeAxis(axes[i], shape.Length);
            sliced[axis] = true;
            var (st, en, step) = (starts[i], ends[i], steps[i]);
            if (shape[axis].IsKnown && st.IsKnown && en.IsKnown)
            {
                var (start, end, count) = SliceRange(shape[axis].Value, st.Value, en.Value, step);
                output[axis] = D.Known(count);
                ranges[axis] = (start, end, step);
            }
            else if (step == 1 && st.IsKnown && st.Value == 0 && en.IsKnown && en.Value >= int.MaxValue)
            {
                output[axis] = shape[axis]; // the whole dim
            }
            // Symbolic windows [0, n) and [s, s+k): their length, assuming the window lies inside the dim, which
            // holds whenever the model runs within its limits (GPT-2 slices its causal mask by past length).
            else if (step == 1 && en.IsSymbol && en.Offset >= 0 && st.IsKnown && st.Value == 0)
            {
                output[axis] = en;
            }
            else if (step == 1 && st.IsSymbol && st.Offset >= 0 && en.Minus(st) is { IsKnown: true, Value: >= 0 } length)
            {
                output[axis] = length;
            }
            else
            {
                output[axis] = D.Unknown;
            }
        }
        SymbolicDim[]? values = null;
        if (shape.Length == 1 && x!.Values is { } v)
        {
            if (ranges[0] is { } r && r.Step > 0)
            {
                values = Enumerable.Range(0, (int)output[0].Value).Select(k => v[r.Start + k * r.Step]).ToArray();
            }
            else if (!sliced[0] || output[0] == shape[0])
            {
                values = v;
            }
        }
        c.SetOutput(0, type, output, values);
    }

    /// <summary>ONNX Slice clamping: returns the effective start, end and element count along one axis.</summary>
    private static (long Start, long End, long Count) SliceRange(long dim, long start, long end, long step)
    {
        if (step == 0) throw new ArgumentException("Slice step 0");
        if (start < 0) start += dim;
        if (end < 0) end += dim;
        if (step > 0)
        {
            start = Math.Clamp(start, 0, dim);
            end = Math.Clamp(end, 0, dim);
            return (start, end, Math.Max(0, ShapeMath.CeilDiv(end - start, step)));
        }
        start = Math.Clamp(start, 0, dim - 1);
        end = Math.Clamp(end, -1, dim - 1);
        return (start, end, Math.Max(0, ShapeMath.CeilDiv(start - end, -step)));
    }

    private static void SqueezeRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        int type = x?.ElementType ?? 0;
        long[]? axes = c.Node.GetInts("axes") ?? (c.HasInput(1) ? c.ConstInts(1) : null);
        if (x?.Shape is not { } shape || (axes is null && c.HasInput(1)))
        {
            c.SetOutput(0, type, null);
            return;
        }
        HashSet<int> drop;
        if (axes is null)
        {
            if (shape.Any(d => !d.IsKnown))
            {
                c.SetOutput(0, type, null);
                return;
            }
            drop = Enumerable.Range(0, shape.Length).Where(i => shape[i].Value == 1).ToHashSet();
        }
        else
        {
            drop = axes.Select(a => ShapeMath.NormalizeAxis(a, shape.Length)).ToHashSet();
        }
        var output = shape.Where((_, i) => !drop.Contains(i)).ToArray();
        c.SetOutput(0, type, output, x.Values is { Length: 1 } && output.Length == 0 ? x.Values : null);
    }

    private static void UnsqueezeRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        int type = x?.ElementType ?? 0;
        long[]? axes = c.Node.GetInts("axes") ?? (c.HasInput(1) ? c.ConstInts(1) : null);
        if (x?.Shape is not { } shape || axes is null)
        {
            c.SetOutput(0, type, null);
            return;
        }
        int rank = shape.Length + axes.Length;
        var inserted = axes.Select(a => ShapeMath.NormalizeAxis(a, rank)).ToHashSet();
        var output = new SymbolicDim[rank];
        int k = 0;
        for (int i = 0; i < rank; i++)
        {
            output[i] = inserted.Contains(i) ? D.Known(1) : shape[k++];
        }
        c.SetOutput(0, type, output, x.Values is not null && rank <= 1 ? x.Values : null);
    }

    private static void GatherRule(ShapeInferenceContext c)
    {
        var data = c.Input(0);
        var indices = c.Input(1);
        int type = data?.ElementType ?? 0;
        if (data?.Shape is not { } shape || indices?.Shape is not { } ishape)
        {
            c.SetOutput(0, type, null);
            return;
        }
        int axis = ShapeMath.NormalizeAxis(c.Node.GetInt("axis", 0), shape.Length);
        var output = shape.Take(axis).Concat(ishape).Concat(shape.Skip(axis + 1)).ToArray();
        SymbolicDim[]? values = null;
        if (shape.Length == 1 && data.Values is { } v && indices.KnownValues is { } idx && ishape.Length <= 1)
        {
            values = idx.Select(i => v[i < 0 ? i + v.Length : i]).ToArray();
        }
        c.SetOutput(0, type, output, values);
    }

    private static void ShapeRule(ShapeInferenceContext c)
    {
        var x = c.Input(0)?.Shape;
        if (x is null)
        {
            c.SetOutput(0, Int64, [D.Unknown]);
            return;
        }
        long rank = x.Length;
        long start = c.Node.GetInt("start", 0), end = c.Node.GetInt("end", rank);
        if (start < 0) start += rank;
        if (end < 0) end += rank;
        start = Math.Clamp(start, 0, rank);
        end = Math.Clamp(end, start, rank);
        var dims = x.Skip((int)start).Take((int)(end - start)).ToArray();
        c.SetOutput(0, Int64, [D.Known(dims.Length)], dims);
    }

    private static void ExpandRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        var target = c.Input(1)?.Values;
        if (x?.Shape is null || target is null)
        {
            c.SetOutput(0, x?.ElementType ?? 0, null);
            return;
        }
        c.SetOutput(0, x.ElementType, ShapeMath.Broadcast(x.Shape, target));
    }

    private static void TileRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        var repeats = c.Input(1)?.Values;
        if (x?.Shape is null || repeats is null || repeats.Length != x.Shape.Length)
        {
            c.SetOutput(0, x?.ElementType ?? 0, x?.Shape is null ? null : Enumerable.Repeat(D.Unknown, x.Shape.Length).ToArray());
            return;
        }
        c.SetOutput(0, x.ElementType, x.Shape.Zip(repeats, ShapeMath.Multiply).ToArray());
    }

    private static void ConstantRule(ShapeInferenceContext c)
    {
        var node = c.Node;
        if (node.GetTensor("value") is { } t)
        {
            var v = ShapeInference.FromTensor(t);
            c.SetOutput(0, v.ElementType, v.Shape, v.Values);
        }
        else if (node.Find("value_float") is not null) c.SetOutput(0, Float, []);
        else if (node.Find("value_floats") is { } fs) c.SetOutput(0, Float, [D.Known(fs.Floats.Count)]);
        else if (node.Find("value_int") is { } i) c.SetOutput(0, Int64, [], [D.Known(i.I)]);
        else if (node.Find("value_ints") is { } ints) c.SetOutput(0, Int64, [D.Known(ints.Ints.Count)], ints.Ints.Select(D.Known).ToArray());
        else if (node.Find("value_string") is not null) c.SetOutput(0, (int)DataType.String, []);
        else if (node.Find("value_strings") is { } ss) c.SetOutput(0, (int)DataType.String, [D.Known(ss.Strings.Count)]);
        else if (node.Find("sparse_value") is { } sp) c.SetOutput(0, sp.SparseTensor.Values.DataType, sp.SparseTensor.Dims.Select(D.Known).ToArray());
    }

    private static void ConstantOfShapeRule(ShapeInferenceContext c)
    {
        var value = c.Node.GetTensor("value");
        int type = value?.DataType ?? Float;
        var shape = c.Input(0)?.Values;
        if (shape is null)
        {
            c.SetOutput(0, type, c.Input(0)?.Shape is [{ IsKnown: true } len] ? Enumerable.Repeat(D.Unknown, (int)len.Value).ToArray() : null);
            return;
        }
        SymbolicDim[]? values = null;
        if (shape.Length == 1 && shape[0].IsKnown && shape[0].Value <= 1024 && value is not null && ShapeInference.IsInteger(type))
        {
            long fill = TensorData.ToInt64Array(value)[0];
            values = Enumerable.Repeat(D.Known(fill), (int)shape[0].Value).ToArray();
        }
        c.SetOutput(0, type, shape, values);
    }

    private static void PadRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        int type = x?.ElementType ?? 0;
        long[]? pads = c.Node.GetInts("pads") ?? c.Node.GetInts("paddings") ?? (c.HasInput(1) ? c.ConstInts(1) : null);
        if (x?.Shape is not { } shape)
        {
            c.SetOutput(0, type, null);
            return;
        }
        if (pads is null)
        {
            c.SetOutput(0, type, Enumerable.Repeat(D.Unknown, shape.Length).ToArray());
            return;
        }
        long[] axes = c.HasInput(3) && c.ConstInts(3) is { } a ? a : Enumerable.Range(0, shape.Length).Select(i => (long)i).ToArray();
        var output = (SymbolicDim[])shape.Clone();
        for (int i = 0; i < axes.Length; i++)
        {
            int axis = ShapeMath.NormalizeAxis(axes[i], shape.Length);
            output[axis] = ShapeMath.Add(shape[axis], pads[i] + pads[i + axes.Length]);
        }
        c.SetOutput(0, type, output);
    }

    private static void ReduceRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        int type = x?.ElementType ?? 0;
        bool keep = c.Node.GetInt("keepdims", 1) != 0;
        long[]? axes = c.Node.GetInts("axes") ?? (c.HasInput(1) ? c.ConstInts(1) : null);
        if (x?.Shape is not { } shape)
        {
            c.SetOutput(0, type, null);
            return;
        }
        if (axes is null && c.HasInput(1))
        {
            c.SetOutput(0, type, keep ? Enumerable.Repeat(D.Unknown, shape.Length).ToArray() : null);
            return;
        }
        if (axes is null || axes.Length == 0)
        {
            if (c.Node.GetInt("noop_with_empty_axes", 0) != 0)
            {
                c.SetOutput(0, type, shape);
                return;
            }
            axes = Enumerable.Range(0, shape.Length).Select(i => (long)i).ToArray();
        }
        var reduced = axes.Select(a => ShapeMath.NormalizeAxis(a, shape.Length)).ToHashSet();
        var output = new List<SymbolicDim>();
        for (int i = 0; i < shape.Length; i++)
        {
            if (!reduced.Contains(i)) output.Add(shape[i]);
            else if (keep) output.Add(D.Known(1));
        }
        // Shape arithmetic in TF exports: ReduceProd over a slice of a Shape gives a flattened size.
        SymbolicDim[]? values = null;
        if (shape.Length == 1 && x.Values is { } v && c.Node.OpType is "ReduceProd" or "ReduceSum")
        {
            var folded = c.Node.OpType == "ReduceProd"
                ? ShapeMath.Product(v)
                : v.All(d => d.IsKnown) ? D.Known(v.Sum(d => d.Value)) : v.Length == 1 ? v[0] : D.Unknown;
            values = [folded];
        }
        c.SetOutput(0, type, output.ToArray(), values);
    }

    private static void ArgRule(ShapeInferenceContext c)
    {
        var x = c.Input(0)?.Shape;
        if (x is null)
        {
            c.SetOutput(0, Int64, null);
            return;
        }
        int axis = ShapeMath.NormalizeAxis(c.Node.GetInt("axis", 0), x.Length);
        bool keep = c.Node.GetInt("keepdims", 1) != 0;
        var output = x.Select((d, i) => i == axis ? (keep ? D.Known(1) : (SymbolicDim?)null) : d).Where(d => d is not null).Select(d => d!.Value).ToArray();
        c.SetOutput(0, Int64, output);
    }

    private static void QuantizeRule(ShapeInferenceContext c)
    {
        int type = c.Input(2)?.ElementType is > 0 and var zp ? zp : (int)c.Node.GetInt("output_dtype", 0) is > 0 and var od ? od : Uint8;
        c.SetOutput(0, type, c.Input(0)?.Shape);
    }

    private static void DynamicQuantizeRule(ShapeInferenceContext c)
    {
        c.SetOutput(0, Uint8, c.Input(0)?.Shape);
        c.SetOutput(1, Float, []);
        c.SetOutput(2, Uint8, []);
    }

    private static void RangeRule(ShapeInferenceContext c)
    {
        int type = TypeOf(c, 0);
        var start = c.ConstantInput(0);
        var limit = c.ConstantInput(1);
        var delta = c.ConstantInput(2);
        // Integer ranges over shape values: limit - start may be a constant even when both are symbolic
        // (GPT-2: Range(past_len, past_len + 1, 1)).
        if ((start is null || limit is null) && c.Input(0)?.Values is [var s0] && c.Input(1)?.Values is [var l0]
            && c.ConstInts(2) is [var step] && step != 0 && l0.Minus(s0) is { IsKnown: true } span)
        {
            c.SetOutput(0, type, [D.Known(Math.Max(0, ShapeMath.CeilDiv(span.Value, step)))]);
            return;
        }
        if (start is null || limit is null || delta is null)
        {
            c.SetOutput(0, type, [D.Unknown]);
            return;
        }
        double s = TensorData.ToDoubleArray(start)[0], l = TensorData.ToDoubleArray(limit)[0], d = TensorData.ToDoubleArray(delta)[0];
        c.SetOutput(0, type, [D.Known(Math.Max(0, (long)Math.Ceiling((l - s) / d)))]);
    }

    private static void ResizeRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        int type = x?.ElementType ?? 0;
        if (x?.Shape is not { } shape)
        {
            c.SetOutput(0, type, null);
            return;
        }
        // Resize-10 / Upsample: scales is input 1; Resize-11+: roi, scales, sizes are inputs 1, 2, 3.
        bool v10 = c.Node.OpType == "Upsample" || c.InputCount == 2;
        var scalesTensor = c.ConstantInput(v10 ? 1 : 2);
        long[]? sizes = !v10 && c.HasInput(3) ? c.ConstInts(3) : null;
        long[]? axes = c.Node.GetInts("axes");
        var output = (SymbolicDim[])shape.Clone();
        var targetAxes = axes?.Select(a => ShapeMath.NormalizeAxis(a, shape.Length)).ToArray() ?? Enumerable.Range(0, shape.Length).ToArray();
        if (sizes is not null && sizes.Length == targetAxes.Length && c.Node.GetString("keep_aspect_ratio_policy", "stretch") == "stretch")
        {
            for (int i = 0; i < targetAxes.Length; i++) output[targetAxes[i]] = D.Known(sizes[i]);
        }
        else if (scalesTensor is not null && TensorData.ElementCount(scalesTensor) == targetAxes.Length && sizes is null)
        {
            var scales = TensorData.ToDoubleArray(scalesTensor);
            for (int i = 0; i < targetAxes.Length; i++)
            {
                var d = shape[targetAxes[i]];
                output[targetAxes[i]] = d.IsKnown ? D.Known((long)Math.Floor(d.Value * scales[i])) : scales[i] == 1 ? d : D.Unknown;
            }
        }
        else
        {
            output = Enumerable.Repeat(D.Unknown, shape.Length).ToArray();
        }
        c.SetOutput(0, type, output);
    }

    /// <summary>Crop-1 (experimental, still run by ORT): border = [left, top, right, bottom], optional scale = [h, w].</summary>
    private static void CropRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        long[]? border = c.Node.GetInts("border");
        long[]? scale = c.Node.GetInts("scale");
        if (x?.Shape is not { Length: 4 } shape || border is not { Length: 4 })
        {
            c.SetOutput(0, x?.ElementType ?? 0, x?.Shape is null ? null : Enumerable.Repeat(D.Unknown, x.Shape.Length).ToArray());
            return;
        }
        var h = scale is { Length: 2 } ? D.Known(scale[0]) : ShapeMath.Add(shape[2], -border[1] - border[3]);
        var w = scale is { Length: 2 } ? D.Known(scale[1]) : ShapeMath.Add(shape[3], -border[0] - border[2]);
        c.SetOutput(0, x.ElementType, [shape[0], shape[1], h, w]);
    }

    private static void TopKRule(ShapeInferenceContext c)
    {
        var x = c.Input(0);
        if (x?.Shape is not { } shape)
        {
            c.SetOutput(0, x?.ElementType ?? 0, null);
            c.SetOutput(1, Int64, null);
            return;
        }
        int axis = ShapeMath.NormalizeAxis(c.Node.GetInt("axis", -1), shape.Length);
        var output = (SymbolicDim[])shape.Clone();
        long? k = c.Node.HasAttribute("k") ? c.Node.GetInt("k", 0) : c.ConstInts(1)?.FirstOrDefault();
        output[axis] = k is { } kk ? D.Known(kk) : D.Unknown;
        c.SetOutput(0, x.ElementType, output);
        c.SetOutput(1, Int64, output);
    }
}
