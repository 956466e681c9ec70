namespace ModelBuild.Onnx.OpsetConversion;

/// <summary>
/// The adapters (one per operator family whose form changed between opset 7 and 13) and the operators that need none.
/// Checked against ONNX's Changelog.md: an operator is "stable" when every version it gained up to 13 only widened
/// what it accepts (more types, negative axes, optional inputs) with the old defaults unchanged.
/// </summary>
public static class OpsetAdapterRegistry
{
    /// <summary>The oldest opset the registry describes (older models are refused).</summary>
    public const int OldestSource = 7;

    /// <summary>The newest opset the registry describes (a conversion cannot target a newer one).</summary>
    public const int NewestTarget = 13;

    public static IReadOnlyList<OpsetAdapter> Adapters { get; } =
    [
        new ClipAdapter(),
        new SoftmaxAdapter(),
        new IntsToInputAdapter(),
        new SliceAdapter(),
        new PadAdapter(),
        new TopKAdapter(),
        new UpsampleAdapter(),
        new ResizeAdapter(),
        new DropoutAdapter(),
        new BatchNormalizationAdapter(),
        new ScatterAdapter(),
        new ScaleShiftAdapter(),
        new CropAdapter(),
        new ScanAdapter(),
    ];

    /// <summary>Operators whose meaning is the same at every opset from 7 to 13.</summary>
    public static IReadOnlySet<string> Stable { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh", "AveragePool",
        "BitShift", "Cast", "Ceil", "Compress", "Concat", "Constant", "ConstantOfShape", "Conv", "ConvInteger",
        "ConvTranspose", "Cos", "Cosh", "CumSum", "DepthToSpace", "DequantizeLinear", "Det", "Div", "DynamicQuantizeLinear",
        "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "GRU", "Gather", "GatherElements",
        "GatherND", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual", "HardSigmoid",
        "Identity", "If", "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LSTM", "LeakyRelu", "Less", "LessOrEqual",
        "Log", "Loop", "LpNormalization", "LpPool", "MatMul", "MatMulInteger", "Max", "MaxPool", "MaxRoiPool", "MaxUnpool",
        "Mean", "MeanVarianceNormalization", "Min", "Mod", "Mul", "Multinomial", "Neg", "NonMaxSuppression", "NonZero",
        "Not", "OneHot", "Or", "PRelu", "Pow", "QLinearConv", "QLinearMatMul", "QuantizeLinear", "RNN", "RandomNormal",
        "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare", "Relu",
        "Reshape", "ReverseSequence", "RoiAlign", "Round", "ScatterElements", "ScatterND", "Selu", "Shape", "Shrink",
        "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Softplus", "Softsign", "SpaceToDepth", "Sqrt", "Sub", "Sum", "Tan",
        "Tanh", "ThresholdedRelu", "Tile", "Transpose", "Unique", "Where", "Xor",
    };

    /// <summary>The adapter for this operator with the lowest change point in (from, to], or null.</summary>
    public static OpsetAdapter? Next(string opType, int from, int to) =>
        Adapters.Where(a => a.ChangedAt > from && a.ChangedAt <= to && a.OpTypes.Contains(opType))
            .OrderBy(a => a.ChangedAt).FirstOrDefault();

    /// <summary>Whether an operator is known at all (stable, or rewritten by some adapter).</summary>
    public static bool IsKnown(string opType) => Stable.Contains(opType) || Adapters.Any(a => a.OpTypes.Contains(opType));
}
