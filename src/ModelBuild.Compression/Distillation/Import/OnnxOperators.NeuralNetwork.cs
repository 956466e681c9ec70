using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ModelBuild.Compression.Distillation.Import;

// Gemm, MatMul, convolutions, pooling, normalizations and softmax.
public static partial class OnnxOperators
{
    static void RegisterNeuralNetworkOperators(Dictionary<string, OnnxKernel> r)
    {
        r["MatMul"] = c => One(c.Input(0).matmul(c.Input(1)));
        r["Gemm"] = Gemm;
        r["Conv"] = Conv;
        r["ConvTranspose"] = ConvTranspose;
        r["MaxPool"] = c => Pool(c, isMax: true);
        r["AveragePool"] = c => Pool(c, isMax: false);
        r["GlobalAveragePool"] = c =>
        {
            var x = c.Input(0);
            return One(x.mean(Enumerable.Range(2, (int)x.dim() - 2).Select(i => (long)i).ToArray(), true));
        };
        r["BatchNormalization"] = BatchNormalization;
        r["LayerNormalization"] = LayerNormalization;
        r["InstanceNormalization"] = InstanceNormalization;
        r["LRN"] = LocalResponseNormalization;
        r["Softmax"] = c => SoftmaxFamily(c, log: false);
        r["LogSoftmax"] = c => SoftmaxFamily(c, log: true);
    }

    static Tensor[] Gemm(OnnxNodeContext c)
    {
        var a = c.Input(0); var b = c.Input(1); var bias = c.OptionalInput(2);
        double alpha = c.Float("alpha", 1f), beta = c.Float("beta", 1f);
        if (c.Int("transA", 0) != 0) a = a.t();
        if (c.Int("transB", 0) != 0) b = b.t();
        if (bias is null || beta == 0) return One(alpha == 1 ? a.mm(b) : a.mm(b).mul(Kept.Of(alpha)));
        // addmm broadcasts C to [M, N] and fuses the add, which is also what nn.Linear runs.
        return One(torch.addmm(bias, a, b, (float)beta, (float)alpha));
    }

    /// <summary>Begin and end padding per spatial axis, resolving auto_pad (SAME_UPPER puts the odd pixel at the end).</summary>
    static (long[] Begin, long[] End) SpatialPads(OnnxNodeContext c, long[] inSize, long[] kernel, long[] strides, long[] dilations)
    {
        int n = kernel.Length;
        var begin = new long[n]; var end = new long[n];
        string autoPad = c.String("auto_pad", "NOTSET");
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            for (int i = 0; i < n; i++)
            {
                long outSize = (inSize[i] + strides[i] - 1) / strides[i];
                long total = Math.Max((outSize - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - inSize[i], 0);
                long small = total / 2;
                (begin[i], end[i]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
        }
        else if (autoPad != "VALID" && c.Ints("pads") is { } pads)
        {
            for (int i = 0; i < n; i++) { begin[i] = pads[i]; end[i] = pads[i + n]; }
        }
        return (begin, end);
    }

    static long[] Repeat(long value, int n) => Enumerable.Repeat(value, n).ToArray();

    /// <summary>torch.nn.functional.pad's argument (last axis first) for begin/end pads of the trailing spatial axes.</summary>
    static long[] TorchPad(long[] begin, long[] end)
    {
        int n = begin.Length;
        var p = new long[2 * n];
        for (int i = 0; i < n; i++) { p[2 * i] = begin[n - 1 - i]; p[2 * i + 1] = end[n - 1 - i]; }
        return p;
    }

    static Tensor[] Conv(OnnxNodeContext c)
    {
        var x = c.Input(0); var w = c.Input(1); var b = c.OptionalInput(2);
        int n = (int)w.dim() - 2;
        long[] kernel = w.shape.Skip(2).ToArray();
        long[] strides = c.Ints("strides") ?? Repeat(1, n);
        long[] dilations = c.Ints("dilations") ?? Repeat(1, n);
        long group = c.Int("group", 1);
        var (begin, end) = SpatialPads(c, x.shape.Skip(2).ToArray(), kernel, strides, dilations);
        long[] padding = begin;
        if (!begin.SequenceEqual(end))
        {
            x = F.pad(x, TorchPad(begin, end));
            padding = Repeat(0, n);
        }
        return One(n switch
        {
            1 => F.conv1d(x, w, b, strides[0], padding[0], dilations[0], group),
            2 => F.conv2d(x, w, b, strides, padding, dilations, group),
            3 => F.conv3d(x, w, b, strides, padding, dilations, group),
            _ => throw new NotSupportedException($"Conv node '{c.Node.Name}' has {n} spatial dimensions."),
        });
    }

    static Tensor[] ConvTranspose(OnnxNodeContext c)
    {
        var x = c.Input(0); var w = c.Input(1); var b = c.OptionalInput(2);
        int n = (int)w.dim() - 2;
        long[] kernel = c.Ints("kernel_shape") ?? w.shape.Skip(2).ToArray();
        long[] strides = c.Ints("strides") ?? Repeat(1, n);
        long[] dilations = c.Ints("dilations") ?? Repeat(1, n);
        long[] outputPadding = c.Ints("output_padding") ?? Repeat(0, n);
        long group = c.Int("group", 1);
        long[] inSize = x.shape.Skip(2).ToArray();
        // The full (unpadded) transposed convolution, then output_padding zeros at the end, then the pads cropped.
        var full = n switch
        {
            1 => F.conv_transpose1d(x, w, null, strides[0], 0, 0, dilations[0], group),
            2 => F.conv_transpose2d(x, w, null, strides, Repeat(0, n), Repeat(0, n), dilations, group),
            3 => F.conv_transpose3d(x, w, null, strides, Repeat(0, n), Repeat(0, n), dilations, group),
            _ => throw new NotSupportedException($"ConvTranspose node '{c.Node.Name}' has {n} spatial dimensions."),
        };
        var fullSize = Enumerable.Range(0, n).Select(i => (inSize[i] - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 + outputPadding[i]).ToArray();
        var begin = new long[n]; var end = new long[n];
        string autoPad = c.String("auto_pad", "NOTSET");
        long[]? outputShape = c.Ints("output_shape");
        if (outputShape is not null || autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            var target = outputShape?.Skip(outputShape.Length - n).ToArray() ?? inSize.Select((s, i) => s * strides[i]).ToArray();
            for (int i = 0; i < n; i++)
            {
                long total = fullSize[i] - target[i];
                // ONNX: SAME_UPPER puts the smaller half at the beginning (pads[start] = total / 2).
                if (autoPad == "SAME_LOWER") { end[i] = total / 2; begin[i] = total - end[i]; }
                else { begin[i] = total / 2; end[i] = total - begin[i]; }
            }
        }
        else if (autoPad != "VALID" && c.Ints("pads") is { } pads)
        {
            for (int i = 0; i < n; i++) { begin[i] = pads[i]; end[i] = pads[i + n]; }
        }
        // Negative torch pads crop; output_padding adds zeros at the end before cropping.
        var tp = TorchPad(begin.Select(v => -v).ToArray(), end.Select((v, i) => outputPadding[i] - v).ToArray());
        var y = tp.Any(v => v != 0) ? F.pad(full, tp) : full;
        if (b is not null) y = y.add(b.reshape(new long[] { 1, -1 }.Concat(Repeat(1, n)).ToArray()), Kept.One);
        return One(y);
    }

    static Tensor[] Pool(OnnxNodeContext c, bool isMax)
    {
        var x = c.Input(0);
        long[] kernel = c.Ints("kernel_shape") ?? throw new InvalidOperationException($"Pool node '{c.Node.Name}' has no kernel_shape.");
        int n = kernel.Length;
        long[] strides = c.Ints("strides") ?? Repeat(1, n);
        long[] dilations = c.Ints("dilations") ?? Repeat(1, n);
        bool ceil = c.Int("ceil_mode", 0) != 0;
        long[] inSize = x.shape.Skip(2).ToArray();
        var (begin, end) = SpatialPads(c, inSize, kernel, strides, dilations);
        var outSize = new long[n];
        var extra = new long[n];
        for (int i = 0; i < n; i++)
        {
            long dk = (kernel[i] - 1) * dilations[i] + 1;
            long span = inSize[i] + begin[i] + end[i] - dk;
            long o = (ceil ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
            // As in PyTorch and the ONNX reference: the last window must start inside the input or the begin padding.
            if (ceil && (o - 1) * strides[i] >= inSize[i] + begin[i]) o--;
            outSize[i] = o;
            extra[i] = Math.Max(0, (o - 1) * strides[i] + dk - (inSize[i] + begin[i] + end[i]));
        }
        var fullEnd = end.Select((e, i) => e + extra[i]).ToArray();

        if (isMax)
        {
            bool floating = IsFloating(x);
            double padValue = floating ? double.NegativeInfinity : MinValue(x.dtype);
            var padded = begin.Any(v => v != 0) || fullEnd.Any(v => v != 0) ? F.pad(x, TorchPad(begin, fullEnd), PaddingModes.Constant, padValue) : x;
            if (c.WantsOutput(1))
            {
                if (n != 2 || !floating) throw new NotSupportedException($"MaxPool node '{c.Node.Name}': the Indices output is supported for 2-D float pooling only.");
                var (values, idx) = F.max_pool2d_with_indices(padded, kernel, strides, Repeat(0, n), dilations, false);
                // torch indexes the padded plane; ONNX flattens over the whole unpadded tensor (storage_order 0, row-major).
                long wp = padded.shape[3];
                var row = idx.div(Kept.Of(wp), RoundingMode.floor).sub(Kept.Of(begin[0]));
                var col = idx.remainder(Kept.Of(wp)).sub(Kept.Of(begin[1]));
                long h = inSize[0], w = inSize[1];
                var plane = Kept.Arange(0, x.shape[0] * x.shape[1], ScalarType.Int64).reshape(x.shape[0], x.shape[1], 1, 1).mul(Kept.Of(h * w));
                Tensor flat = c.Int("storage_order", 0) == 0 ? row.mul(Kept.Of(w)).add(col, Kept.One) : col.mul(Kept.Of(h)).add(row, Kept.One);
                return new[] { values, flat.add(plane, Kept.One) };
            }
            if (floating && n is >= 1 and <= 3)
            {
                var zeros = Repeat(0, n);
                return One(n switch
                {
                    1 => F.max_pool1d(padded, kernel[0], strides[0], 0, dilations[0], false),
                    2 => F.max_pool2d(padded, kernel, strides, zeros, dilations, false),
                    _ => F.max_pool3d(padded, kernel, strides, zeros, dilations, false),
                });
            }
            return One(WindowReduce(padded, kernel, strides, dilations, max: true));
        }

        // Average: window sums of the zero-padded input divided by the number of counted elements per window.
        // count_include_pad counts the explicit pads but never the ceil_mode overhang (as PyTorch and ONNX do).
        var xz = F.pad(x, TorchPad(begin, fullEnd));
        var sums = WindowReduce(xz, kernel, strides, dilations, max: false);
        bool includePad = c.Int("count_include_pad", 0) != 0;
        var ones = torch.ones(new long[] { 1, 1 }.Concat(inSize).ToArray(), x.dtype);
        var mask = includePad
            ? F.pad(F.pad(ones, TorchPad(begin, end), PaddingModes.Constant, 1.0), TorchPad(Repeat(0, n), extra))
            : F.pad(ones, TorchPad(begin, fullEnd));
        var counts = WindowReduce(mask, kernel, strides, dilations, max: false);
        return One(sums.div(counts));
    }

    /// <summary>Sum or max over every (dilated) pooling window of an already padded input, for any number of spatial axes.</summary>
    static Tensor WindowReduce(Tensor padded, long[] kernel, long[] strides, long[] dilations, bool max)
    {
        int n = kernel.Length;
        var t = padded;
        for (int i = 0; i < n; i++)
        {
            long dk = (kernel[i] - 1) * dilations[i] + 1;
            t = t.unfold(2 + i, dk, strides[i]);          // appends the window as the last axis
            if (dilations[i] != 1) t = t.slice(-1, 0, dk, dilations[i]);
        }
        var windowAxes = Enumerable.Range(0, n).Select(i => (long)(t.dim() - 1 - i)).ToArray();
        return max ? t.amax(windowAxes, false) : t.sum(windowAxes, false, padded.dtype);
    }

    static Tensor[] BatchNormalization(OnnxNodeContext c)
    {
        var x = c.Input(0); var scale = c.Input(1); var bias = c.Input(2); var mean = c.Input(3); var variance = c.Input(4);
        double eps = c.Float("epsilon", 1e-5f);
        double momentum = c.Float("momentum", 0.9f);
        bool trainingMode = c.Opset >= 14 && c.Int("training_mode", 0) != 0;
        if (trainingMode)
        {
            // ONNX training mode: normalize with the batch statistics (population variance) and return the updated running ones.
            var axes = Enumerable.Range(0, (int)x.dim()).Where(i => i != 1).Select(i => (long)i).ToArray();
            var shape = x.shape.Select((d, i) => i == 1 ? d : 1L).ToArray();
            var batchMean = x.mean(axes, false);
            var batchVar = x.var(axes, false, false);
            var y = x.sub(batchMean.reshape(shape)).div(batchVar.reshape(shape).add(Kept.Of(eps), Kept.One).sqrt()).mul(scale.reshape(shape)).add(bias.reshape(shape), Kept.One);
            var outputs = new List<Tensor> { y };
            if (c.WantsOutput(1)) outputs.Add(mean.mul(Kept.Of(momentum)).add(batchMean.mul(Kept.Of(1 - momentum)), Kept.One));
            if (c.WantsOutput(2)) outputs.Add(variance.mul(Kept.Of(momentum)).add(batchVar.mul(Kept.Of(1 - momentum)), Kept.One));
            return outputs.ToArray();
        }
        // While the student trains, BatchNorm uses batch statistics and updates its running buffers in place, as
        // nn.BatchNorm does in train mode (ONNX momentum m is torch momentum 1 - m).
        return One(F.batch_norm(x, mean, variance, scale, bias, c.Training, 1 - momentum, eps));
    }

    static Tensor[] InstanceNormalization(OnnxNodeContext c)
    {
        var x = c.Input(0); var scale = c.Input(1); var bias = c.Input(2);
        double eps = c.Float("epsilon", 1e-5f);
        var axes = Enumerable.Range(2, (int)x.dim() - 2).Select(i => (long)i).ToArray();
        var shape = x.shape.Select((d, i) => i == 1 ? d : 1L).ToArray();
        var mean = x.mean(axes, true);
        var d = x.sub(mean);
        var y = d.mul(d.mul(d).mean(axes, true).add(Kept.Of(eps), Kept.One).rsqrt());
        return One(y.mul(scale.reshape(shape)).add(bias.reshape(shape), Kept.One));
    }

    static Tensor[] LocalResponseNormalization(OnnxNodeContext c)
    {
        // y = x / (bias + alpha / size * sum of x^2 over the channel window [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta
        var x = c.Input(0);
        long size = c.Int("size", 1);
        double alpha = c.Float("alpha", 1e-4f), beta = c.Float("beta", 0.75f), bias = c.Float("bias", 1f);
        long before = (size - 1) / 2, after = size - 1 - before;
        var padSpec = new long[2 * (x.dim() - 1)];
        padSpec[^2] = before; padSpec[^1] = after; // channel axis is the first padded axis counted from the end
        var squares = F.pad(x.mul(x), padSpec);
        var sums = squares.unfold(1, size, 1).sum(new long[] { -1 }, false, x.dtype);
        return One(x.div(sums.mul(Kept.Of(alpha / size)).add(Kept.Of(bias), Kept.One).pow(Kept.Of(beta))));
    }

    static Tensor[] LayerNormalization(OnnxNodeContext c)
    {
        var x = c.Input(0); var scale = c.Input(1); var bias = c.OptionalInput(2);
        long axis = c.Axis(c.Int("axis", -1), x.dim());
        double eps = c.Float("epsilon", 1e-5f);
        var normalized = x.shape.Skip((int)axis).ToArray();
        bool exactParams = scale.shape.SequenceEqual(normalized) && (bias is null || bias.shape.SequenceEqual(normalized));
        if (!c.WantsOutput(1) && !c.WantsOutput(2) && exactParams)
            return One(F.layer_norm(x, normalized, scale, bias, eps));
        var axes = Enumerable.Range((int)axis, (int)(x.dim() - axis)).Select(i => (long)i).ToArray();
        var mean = x.mean(axes, true);
        var d = x.sub(mean);
        var invStd = d.mul(d).mean(axes, true).add(Kept.Of(eps), Kept.One).rsqrt();
        var y = d.mul(invStd).mul(scale);
        if (bias is not null) y = y.add(bias, Kept.One);
        var outputs = new List<Tensor> { y };
        if (c.WantsOutput(1)) outputs.Add(mean);
        if (c.WantsOutput(2)) outputs.Add(invStd);
        return outputs.ToArray();
    }

    static Tensor[] SoftmaxFamily(OnnxNodeContext c, bool log)
    {
        var x = c.Input(0);
        long rank = x.dim();
        if (c.Opset < 13)
        {
            // Before opset 13 the input is coerced to 2-D at `axis` (default 1) and normalized over the whole second part.
            long axis = c.Int("axis", 1);
            if (axis < 0) axis += rank;
            long outer = x.shape.Take((int)axis).Aggregate(1L, (p, d) => p * d);
            var flat = x.reshape(outer, -1);
            var s = log ? flat.log_softmax(1) : flat.softmax(1);
            return One(s.reshape(x.shape));
        }
        long ax = c.Axis(c.Int("axis", -1), rank);
        return One(log ? x.log_softmax(ax) : x.softmax(ax));
    }
}
