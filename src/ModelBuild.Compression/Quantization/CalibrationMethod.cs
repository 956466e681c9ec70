using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Quantization;

/// <summary>How an activation's quantization range is chosen from its calibration statistics.</summary>
public enum CalibrationMethod
{
    /// <summary>The observed minimum and maximum.</summary>
    MinMax,
    /// <summary>The 0.001% tails on either side are clipped (the ONNX Runtime tool's default percentile 99.999).</summary>
    Percentile,
    /// <summary>The threshold minimizing KL divergence between the float and quantized histograms (TensorRT's method).</summary>
    Entropy,
}

public static class CalibrationMethodNames
{
    public static CalibrationMethod Parse(string? text) => (text ?? "minmax").Trim().ToLowerInvariant() switch
    {
        "minmax" or "min-max" or "" => CalibrationMethod.MinMax,
        "percentile" => CalibrationMethod.Percentile,
        "entropy" or "kl" => CalibrationMethod.Entropy,
        _ => throw new ModelBuildException("MB0201", $"Unknown calibration method '{text}'.", "Use --calibration-method minmax, percentile or entropy."),
    };

    public static string Name(this CalibrationMethod m) => m switch
    {
        CalibrationMethod.MinMax => "minmax",
        CalibrationMethod.Percentile => "percentile",
        _ => "entropy",
    };
}
