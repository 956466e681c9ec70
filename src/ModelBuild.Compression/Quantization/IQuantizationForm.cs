using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// One quantized form (<c>--quantize</c> word): what it needs and how it rewrites a prepared graph. The quantize stage
/// asks only this interface; <see cref="QuantizationForms"/> lists the forms (as ONNX Runtime's quantizer registry maps
/// an operator to its quantizer). A new form is one class implementing this plus one line in the registry.
/// </summary>
public interface IQuantizationForm
{
    /// <summary>The canonical <c>--quantize</c> word, also the candidate's name in the report.</summary>
    string Name { get; }

    /// <summary>Other words accepted for this form (lower case).</summary>
    IReadOnlyList<string> Aliases { get; }

    /// <summary>The opset the graph is converted to before this form runs (its operators' first version).</summary>
    int MinimumOpset { get; }

    /// <summary>Whether the sensitivity repair applies: layers can be kept float, one by one, until the accuracy gate passes.</summary>
    bool SensitivityRepair { get; }

    /// <summary>Whether this form needs calibrated activation ranges (<see cref="QuantizeRequest.Ranges"/>).</summary>
    bool NeedsCalibration { get; }

    /// <summary>Whether this form rewrites only the quantizable nodes (Conv, Gemm, MatMul, Gather tables), so a model without any is left as it is.</summary>
    bool NeedsQuantizableNodes => true;

    /// <summary>Whether this form rewrites only weight matrices (MatMul/Gemm and Gather tables), so a convolution-only model stays float.</summary>
    bool OnlyWeightMatrices { get; }

    /// <summary>The smallest fraction of the float32 weight bytes this form can store them in (the early "cannot be smaller" check).</summary>
    double BestCaseSizeRatio { get; }

    /// <summary>
    /// Whether this form quantizes the packed QKV weight of ONNX Runtime's fused <c>Attention</c> (its int8 <c>QAttention</c>
    /// form, or int8 storage); when it does not, the optimize stage leaves attention unfused so that the separate
    /// projections are quantized instead of that weight staying float.
    /// </summary>
    bool ReachesFusedAttention => true;

    /// <summary>The rank of this form among <c>auto</c>'s candidates (tried in ascending rank), or null when auto never tries it.</summary>
    int? AutoRank { get; }

    /// <summary>Whether <c>auto</c> tries this form on a model with these facts.</summary>
    bool FitsAuto(QuantizationFacts facts) => true;

    /// <summary>A note for the report when this form is asked for explicitly, or null.</summary>
    string? Note(QuantizationFacts facts) => null;

    QuantizedModel Quantize(ModelProto prepared, QuantizeRequest request);
}

/// <summary>
/// What a form's <see cref="IQuantizationForm.Quantize"/> gets besides the prepared graph: the nodes to keep float
/// (the repair's choice), the calibrated ranges of the forms that need them, whether weights get per-channel scales and
/// whether int8-static applies <see cref="Int8KernelSizeRule"/> (<c>--int8-speed-rule</c>).
/// </summary>
public sealed record QuantizeRequest(IReadOnlySet<string> ExcludedNodes, IReadOnlyDictionary<string, (float Min, float Max)>? Ranges = null, bool PerChannel = true,
    bool SpeedRule = true);

/// <summary>
/// What the registry's choices depend on: whether calibration data was given, which kinds of weighted nodes the graph
/// has and whether the recipe prefers size to latency (<c>--prefer size</c>, which adds the size-only forms to auto).
/// </summary>
public sealed record QuantizationFacts(bool HasCalibrationData, bool HasMatMulOrGemm, bool HasConv, bool PreferSize = false);
