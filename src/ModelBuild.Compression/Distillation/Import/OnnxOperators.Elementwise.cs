using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ModelBuild.Compression.Distillation.Import;

// Arithmetic, comparison, logic and activation operators: all broadcast like numpy, which torch also does.
public static partial class OnnxOperators
{
    static void RegisterElementwise(Dictionary<string, OnnxKernel> r)
    {
        r["Add"] = c => One(c.Input(0).add(c.Input(1), Kept.One));
        r["Sub"] = c => One(c.Input(0).sub(c.Input(1)));
        r["Mul"] = c => One(c.Input(0).mul(c.Input(1)));
        r["Div"] = c =>
        {
            var a = c.Input(0); var b = c.Input(1);
            // ONNX integer division truncates toward zero (C semantics), torch's default would produce floats.
            return One(IsFloating(a) ? a.div(b) : a.div(b, RoundingMode.trunc));
        };
        r["Pow"] = Pow;
        r["Sqrt"] = c => One(c.Input(0).sqrt());
        r["Exp"] = c => One(c.Input(0).exp());
        r["Log"] = c => One(c.Input(0).log());
        r["Erf"] = c => One(c.Input(0).erf());
        r["Relu"] = c => One(F.relu(c.Input(0)));
        r["LeakyRelu"] = c => One(c.Input(0).leaky_relu(Kept.Of((double)c.Float("alpha", 0.01f))));
        r["Sigmoid"] = c => One(c.Input(0).sigmoid());
        r["Tanh"] = c => One(c.Input(0).tanh());
        r["Gelu"] = Gelu;
        r["Equal"] = c => One(c.Input(0).eq(c.Input(1)));
        r["Not"] = c => One(c.Input(0).logical_not());
        r["Where"] = c => One(torch.where(c.Input(0), c.Input(1), c.Input(2)));
        r["Clip"] = Clip;
        r["Cast"] = Cast;
        r["Identity"] = c => One(c.Input(0).alias());
        r["Dropout"] = Dropout;
        // Beyond the required list: the small operators ONNX's function bodies (the *_expanded node tests) use.
        r["Less"] = c => One(c.Input(0).lt(c.Input(1)));
        r["Neg"] = c => One(c.Input(0).neg());
        r["Reciprocal"] = c => One(c.Input(0).reciprocal());
        r["Ceil"] = c => One(c.Input(0).ceil());
        r["Size"] = c => One(torch.tensor(c.Input(0).numel(), ScalarType.Int64));
        r["CastLike"] = c => One(c.Input(0).to_type(c.Input(1).dtype));
        r["Sum"] = c => One(c.Inputs.Select(t => t!).Aggregate((a, b) => a.add(b, Kept.One)));
        r["Max"] = c => One(c.Inputs.Select(t => t!).Aggregate((a, b) => a.maximum(b)));
    }

    static Tensor[] Pow(OnnxNodeContext c)
    {
        var x = c.Input(0); var y = c.Input(1);
        // The output has X's type. Mixed types are computed in double and converted, as ONNX Runtime does.
        if (x.dtype == y.dtype) return One(x.pow(y));
        if (IsFloating(x) && !IsFloating(y)) return One(x.pow(y.to_type(x.dtype)));
        using var xd = x.to_type(ScalarType.Float64);
        using var yd = y.to_type(ScalarType.Float64);
        using var p = xd.pow(yd);
        return One(p.to_type(x.dtype));
    }

    static Tensor[] Gelu(OnnxNodeContext c)
    {
        var x = c.Input(0);
        if (c.String("approximate", "none") == "tanh")
        {
            // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            var inner = x.add(x.pow(Kept.Of(3)).mul(Kept.Of(0.044715)), Kept.One).mul(Kept.Of(Math.Sqrt(2.0 / Math.PI)));
            return One(x.mul(Kept.Of(0.5)).mul(inner.tanh().add(Kept.Of(1.0), Kept.One)));
        }
        // torch's exact GELU, 0.5 x (1 + erf(x / sqrt 2)), in one kernel (and one autograd node).
        return One(torch.nn.functional.gelu(x));
    }

    static Tensor[] Clip(OnnxNodeContext c)
    {
        var x = c.Input(0);
        Tensor result = x;
        if (c.Opset < 11)
        {
            // Opset 6: min and max are attributes with +-float.max defaults.
            float min = c.Float("min", float.MinValue), max = c.Float("max", float.MaxValue);
            return One(x.clamp(Kept.Of(min), Kept.Of(max)));
        }
        var min11 = c.OptionalInput(1);
        var max11 = c.OptionalInput(2);
        // The bounds are tensors the graph may compute from the data: scalars alive until the call returns, not kept.
        if (min11 is not null)
        {
            using var min = IsFloating(x) ? OnnxNodeContext.ToDouble(min11).ToScalar() : OnnxNodeContext.ToLongs(min11)[0].ToScalar();
            result = result.clamp_min(min);
        }
        if (max11 is not null)
        {
            using var max = IsFloating(x) ? OnnxNodeContext.ToDouble(max11).ToScalar() : OnnxNodeContext.ToLongs(max11)[0].ToScalar();
            result = result.clamp_max(max);
        }
        return One(ReferenceEquals(result, x) ? x.alias() : result);
    }

    static Tensor[] Cast(OnnxNodeContext c)
    {
        int to = (int)c.Int("to", 0);
        var type = TensorProtoConverter.ToScalarType(to)
            ?? throw new NotSupportedException($"Node '{c.Node.Name}' casts to ONNX type {to}, which the importer does not support.");
        return One(c.Input(0).to_type(c.ComputeType(type)));
    }

    static Tensor[] Dropout(OnnxNodeContext c)
    {
        var x = c.Input(0);
        double ratio = c.Opset >= 12 && c.OptionalInput(1) is { } r ? OnnxNodeContext.ToDouble(r) : c.Float("ratio", 0.5f); // a graph constant in practice
        bool trainingInput = c.Opset >= 12 && c.OptionalInput(2) is { } tm && OnnxNodeContext.ToLongs(tm)[0] != 0;
        // An exported (inference) graph's Dropout is the identity; while the student trains it drops, as in PyTorch.
        bool drop = (trainingInput || c.Training) && ratio > 0;
        if (!drop)
            return c.WantsOutput(1) ? new[] { x.alias(), torch.ones_like(x, dtype: ScalarType.Bool) } : One(x.alias());
        // The kept-element mask is drawn explicitly so that the Mask output is exact even where x is 0.
        var mask = torch.rand_like(x, dtype: ScalarType.Float32).ge(Kept.Of(ratio));
        var y = x.mul(mask).div(Kept.Of(1 - ratio));
        if (!c.WantsOutput(1)) return One(y);
        return new[] { y, mask };
    }
}
