namespace ModelBuild.Onnx.Shapes;

/// <summary>Dimension arithmetic: numpy broadcasting, products, axis normalisation, conv/pool output sizes.</summary>
public static class ShapeMath
{
    /// <summary>Multidirectional (numpy) broadcasting of two shapes.</summary>
    public static SymbolicDim[] Broadcast(SymbolicDim[] a, SymbolicDim[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var result = new SymbolicDim[rank];
        for (int i = 0; i < rank; i++)
        {
            var x = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : SymbolicDim.Known(1);
            var y = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : SymbolicDim.Known(1);
            result[i] = BroadcastDim(x, y);
        }
        return result;
    }

    public static SymbolicDim BroadcastDim(SymbolicDim x, SymbolicDim y)
    {
        if (x.IsKnown && x.Value == 1) return y;
        if (y.IsKnown && y.Value == 1) return x;
        if (x.IsKnown) return x; // y is equal, symbolic (must then equal x) or unknown
        if (y.IsKnown) return y;
        if (x.IsSymbol && y.IsSymbol && x.Param == y.Param) return x;
        return SymbolicDim.Unknown;
    }

    /// <summary>Product of dims: known if all known, a symbol if exactly one symbol times known 1s, else unknown.</summary>
    public static SymbolicDim Product(IEnumerable<SymbolicDim> dims)
    {
        long known = 1;
        SymbolicDim? symbol = null;
        int symbols = 0;
        foreach (var d in dims)
        {
            if (d.IsKnown)
            {
                known = checked(known * d.Value);
            }
            else if (d.IsSymbol)
            {
                symbols++;
                symbol = d;
            }
            else
            {
                return known == 0 ? SymbolicDim.Known(0) : SymbolicDim.Unknown;
            }
        }
        if (symbols == 0) return SymbolicDim.Known(known);
        if (known == 0) return SymbolicDim.Known(0);
        if (symbols == 1 && known == 1) return symbol!.Value;
        return SymbolicDim.Unknown;
    }

    public static int NormalizeAxis(long axis, int rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank)
        {
            throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} is out of range for rank {rank}");
        }
        return (int)a;
    }

    public static SymbolicDim Add(SymbolicDim d, long delta) => d.Plus(delta);

    /// <summary>a + b: known, symbol + constant, or unknown.</summary>
    public static SymbolicDim Sum(SymbolicDim a, SymbolicDim b) =>
        b.IsKnown ? a.Plus(b.Value) : a.IsKnown ? b.Plus(a.Value) : SymbolicDim.Unknown;

    public static SymbolicDim Multiply(SymbolicDim a, SymbolicDim b)
    {
        if (a.IsKnown && b.IsKnown) return SymbolicDim.Known(checked(a.Value * b.Value));
        if (a.IsKnown && a.Value == 1) return b;
        if (b.IsKnown && b.Value == 1) return a;
        if ((a.IsKnown && a.Value == 0) || (b.IsKnown && b.Value == 0)) return SymbolicDim.Known(0);
        return SymbolicDim.Unknown;
    }

    /// <summary>Output size of a sliding window (Conv, pooling).</summary>
    public static SymbolicDim WindowOutput(SymbolicDim input, long kernel, long stride, long dilation, long padBegin, long padEnd,
        string autoPad, bool ceilMode)
    {
        if (!input.IsKnown)
        {
            return SymbolicDim.Unknown;
        }
        long n = input.Value;
        long effective = (kernel - 1) * dilation + 1;
        switch (autoPad)
        {
            case "SAME_UPPER":
            case "SAME_LOWER":
                return SymbolicDim.Known(CeilDiv(n, stride));
            case "VALID":
                return SymbolicDim.Known(CeilDiv(n - effective + 1, stride));
        }
        long span = n + padBegin + padEnd - effective;
        if (!ceilMode)
        {
            return SymbolicDim.Known(FloorDiv(span, stride) + 1);
        }
        long output = CeilDiv(span, stride) + 1;
        // The last window must start inside the input or the left padding (onnx pool_op_common rule).
        if ((output - 1) * stride >= n + padBegin)
        {
            output--;
        }
        return SymbolicDim.Known(output);
    }

    public static long CeilDiv(long a, long b) => a >= 0 ? (a + b - 1) / b : -((-a) / b);

    public static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);
}
