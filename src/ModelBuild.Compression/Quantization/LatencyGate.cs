using System.Globalization;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// "Do no harm": a quantized model may not be slower than its float input on this CPU, measured at batch 1
/// (one thread, median of many interleaved runs), with <see cref="Noise"/> allowed for measurement noise.
/// </summary>
public sealed record LatencyGate(double Noise = 0.03)
{
    /// <summary>How a candidate's report row names this gate among the gates checked.</summary>
    public const string Name = "not slower than float";

    /// <summary>Whether the gate can decide: both latencies were measured.</summary>
    public static bool CanCheck(double? floatMicroseconds, double? candidateMicroseconds) => floatMicroseconds is not null && candidateMicroseconds is not null;

    /// <summary>
    /// Null when the candidate is not slower than float (within the noise), else the reason. <paramref name="pairedRatio"/>
    /// (candidate / float, paired by measurement round) decides when given; the medians are what the message shows.
    /// </summary>
    public string? Check(double? floatMicroseconds, double? candidateMicroseconds, double? pairedRatio = null)
    {
        if (floatMicroseconds is not { } f || candidateMicroseconds is not { } c) return null;
        var ratio = pairedRatio ?? c / f;
        return ratio <= 1 + Noise ? null
            : string.Create(CultureInfo.InvariantCulture, $"slower than float on this CPU: {c:0.0} us vs {f:0.0} us at batch 1 ({ratio:0.00}x, paired)");
    }
}
