using System.Globalization;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Pipeline;

/// <summary>
/// The two sentences a run ends with, written once by the worker into the report (<see cref="CompressionReport.Summary"/>,
/// <see cref="CompressionReport.Gate"/>) and printed as they are by the CLI and the build task, for a fresh result and
/// a cache hit alike.
/// </summary>
public static class ReportSummary
{
    /// <summary><c>281,255 B -> 75,233 B (3.74x smaller), latency 6.0 us -> 5.9 us, accuracy 100.00% -> 100.00%, agreement 100.00%</c></summary>
    public static string Line(CompressionReport report)
    {
        var (teacher, result) = (report.Teacher, report.Result);
        var ratio = result.Bytes > 0 ? Invariant($" ({(double)teacher.Bytes / result.Bytes:0.00}x smaller)") : "";
        return Invariant($"{teacher.Bytes:N0} B -> {result.Bytes:N0} B{ratio}, latency {Micros(teacher.LatencyMicroseconds)} -> {Micros(result.LatencyMicroseconds)}, ")
            + $"accuracy {Percent(teacher.Accuracy)} -> {Percent(result.Accuracy)}{(result.Agreement is { } a ? $", agreement {Percent(a)}" : "")}";
    }

    /// <summary>The figures a quality gate judged, with the limits the recipe set.</summary>
    public static string Gate(CompressionRecipe recipe, CompressionReport report)
    {
        var parts = new List<string> { $"accuracy teacher {Percent(report.Teacher.Accuracy)} -> result {Percent(report.Result.Accuracy)}" };
        if (report.Teacher.Accuracy is { } t && report.Result.Accuracy is { } r)
            parts[0] += Invariant($" (drop {t - r:0.00} points") + (recipe.MaxAccuracyDrop is { } max ? Invariant($", allowed {max:0.00})") : ")");
        if (report.Result.Agreement is { } agreement)
            parts.Add($"agreement {Percent(agreement)}" + (recipe.MinAgreement is { } min ? Invariant($" (required {min:0.00}%)") : ""));
        parts.Add($"latency {Micros(report.Teacher.LatencyMicroseconds)} -> {Micros(report.Result.LatencyMicroseconds)}");
        return string.Join(", ", parts);
    }

    private static string Micros(double? value) => value is { } v ? v.ToString("0.0", CultureInfo.InvariantCulture) + " us" : "n/a";
    private static string Percent(double? value) => value is { } v ? v.ToString("0.00", CultureInfo.InvariantCulture) + "%" : "n/a";
    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
