using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Distillation.Synthetic;

/// <summary>The MB033x diagnostics of data-free synthetic inputs (docs/diagnostics.md).</summary>
internal static class DeepInversionErrors
{
    public static ModelBuildException NoBatchNormalization(string teacher) => new("MB0333",
        "--synthetic without --train-data needs the teacher's BatchNormalization statistics to invert (DeepInversion), and this teacher has no BatchNormalization node, so there is nothing to generate inputs from.",
        "Pass a few real input samples with --train-data (synthetic data is then generated from them), or distill from a teacher that has BatchNormalization layers.", teacher);

    public static ModelBuildException UnsupportedInput(string teacher, string detail) => new("MB0334",
        $"Data-free synthetic inputs (DeepInversion) cannot be generated for this teacher: {detail}",
        "Pass real input samples with --train-data; DeepInversion needs one float input with fixed dimensions after the batch axis and a [batch, classes] output.", teacher);
}
