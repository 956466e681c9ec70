using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Import;

// ReduceSum / ReduceMean / ReduceMax: axes moved from attribute to input at opset 13 (Sum) and 18 (the others).
public static partial class OnnxOperators
{
    static void RegisterReductions(Dictionary<string, OnnxKernel> r)
    {
        r["ReduceSum"] = c => Reduce(c, 13, ReduceKind.Sum);
        r["ReduceMean"] = c => Reduce(c, 18, ReduceKind.Mean);
        r["ReduceMax"] = c => Reduce(c, 18, ReduceKind.Max);
        r["ReduceProd"] = c => Reduce(c, 18, ReduceKind.Prod);
    }

    enum ReduceKind { Sum, Mean, Max, Prod }

    static Tensor[] Reduce(OnnxNodeContext c, int axesInputSince, ReduceKind kind)
    {
        var x = c.Input(0);
        long rank = x.dim();
        bool keep = c.Int("keepdims", 1) != 0;
        long[]? axes = c.Opset >= axesInputSince
            ? (c.OptionalInput(1) is { } a ? OnnxNodeContext.ToLongs(a) : null)
            : c.Ints("axes");
        if (axes is null || axes.Length == 0)
        {
            if (c.Int("noop_with_empty_axes", 0) != 0) return One(x.alias());
            axes = Enumerable.Range(0, (int)rank).Select(i => (long)i).ToArray();
        }
        axes = axes.Select(a => c.Axis(a, rank)).Distinct().OrderBy(a => a).ToArray();
        if (rank == 0) return One(x.alias());

        var outShape = x.shape.Select((d, i) => axes.Contains(i) ? 1L : d).ToArray();
        long reduced = axes.Aggregate(1L, (p, a) => p * x.shape[a]);
        if (reduced == 0)
        {
            // Reducing an empty set: the identity of the reduction (0 for sum, -inf / type minimum for max).
            Tensor filled = kind switch
            {
                ReduceKind.Sum => torch.zeros(outShape, x.dtype),
                ReduceKind.Prod => torch.ones(outShape, x.dtype),
                ReduceKind.Max => IsFloating(x) ? torch.full(outShape, Kept.Of(double.NegativeInfinity), x.dtype) : torch.full(outShape, Kept.Of(MinValue(x.dtype)), x.dtype),
                _ => torch.full(outShape, Kept.Of(double.NaN), x.dtype),
            };
            return One(keep ? filled : filled.reshape(x.shape.Where((d, i) => !axes.Contains(i)).ToArray()));
        }
        Tensor y = kind switch
        {
            ReduceKind.Sum => x.sum(axes, keep),
            ReduceKind.Mean => x.mean(axes, keep),
            ReduceKind.Prod => axes.Reverse().Aggregate(x, (t, a) => t.prod(a, keep)),
            _ => x.amax(axes, keep),
        };
        // torch.sum promotes integers to int64; ONNX keeps the input type.
        return One(y.dtype == x.dtype ? y : y.to_type(x.dtype));
    }

    static long MinValue(ScalarType t) => t switch
    {
        ScalarType.Int8 => sbyte.MinValue,
        ScalarType.Int16 => short.MinValue,
        ScalarType.Int32 => int.MinValue,
        ScalarType.Int64 => long.MinValue,
        _ => 0,
    };
}
