using System.Globalization;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// "Do no harm": a quantized model may not be slower than its float input on this CPU, measured at batch 1
/// (one thread, median of many interleaved runs), with <see cref="Noise"/> allowed for measurement noise.
/// </summary>
public sealed record LatencyGate(double Noise = 0.03)
{
    /// <summary>Null when the candidate is not slower than float (within the noise), else the reason.</summary>
    public string? Check(double? floatMicroseconds, double? candidateMicroseconds)
    {
        if (floatMicroseconds is not { } f || candidateMicroseconds is not { } c) return null;
        return c <= f * (1 + Noise) ? null
            : string.Create(CultureInfo.InvariantCulture, $"slower than float on this CPU: {c:0.0} us vs {f:0.0} us at batch 1 ({c / f:0.00}x)");
    }
}
