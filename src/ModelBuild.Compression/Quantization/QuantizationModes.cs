using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Quantization;

/// <summary>The forms <c>--quantize</c> accepts.</summary>
public enum QuantizationMode
{
    None,
    /// <summary>int8 weights, activations quantized at run time (MatMul/Gemm).</summary>
    Int8Dynamic,
    /// <summary>int8 weights and calibrated int8 activations, QDQ form.</summary>
    Int8Static,
    /// <summary>int8 weights stored in the file, expanded to float when the session loads: smaller file, float speed.</summary>
    Int8Weights,
    /// <summary>4-bit blockwise weights for MatMul/Gemm (MatMulNBits).</summary>
    Int4Weight,
    /// <summary>float16 weights and compute, float32 model inputs and outputs.</summary>
    Fp16,
    /// <summary>Try the forms that fit, measure each, keep the best that passes the gates.</summary>
    Auto,
}

public static class QuantizationModes
{
    public static QuantizationMode Parse(string? text) => (text ?? "none").Trim().ToLowerInvariant() switch
    {
        "" or "none" => QuantizationMode.None,
        "int8-dynamic" or "int8dynamic" or "dynamic" => QuantizationMode.Int8Dynamic,
        "int8-static" or "int8static" or "int8" or "static" => QuantizationMode.Int8Static,
        "int8-weights" or "int8weights" or "int8-weight" => QuantizationMode.Int8Weights,
        "int4-weight" or "int4weight" or "int4" => QuantizationMode.Int4Weight,
        "fp16" or "float16" => QuantizationMode.Fp16,
        "auto" => QuantizationMode.Auto,
        _ => throw new ModelBuildException("MB0207", $"Unknown quantization form '{text}'.",
            "Use --quantize none, int8-dynamic, int8-static, int8-weights, int4-weight, fp16 or auto."),
    };

    public static string Name(this QuantizationMode mode) => mode switch
    {
        QuantizationMode.None => "none",
        QuantizationMode.Int8Dynamic => "int8-dynamic",
        QuantizationMode.Int8Static => "int8-static",
        QuantizationMode.Int8Weights => "int8-weights",
        QuantizationMode.Int4Weight => "int4-weight",
        QuantizationMode.Fp16 => "fp16",
        _ => "auto",
    };
}
