using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pipeline;

/// <summary>Writes the JSON report and, beside it, Markdown and self-contained HTML renderings of the same content.</summary>
public static class ReportWriter
{
    public static string MarkdownPath(string jsonPath) => Path.ChangeExtension(jsonPath, ".md");
    public static string HtmlPath(string jsonPath) => Path.ChangeExtension(jsonPath, ".html");

    public static void Write(CompressionReport report, string jsonPath)
    {
        AtomicFile.Write(Path.GetFullPath(jsonPath), s => s.Write(Encoding.UTF8.GetBytes(report.ToJson())));
        AtomicFile.Write(Path.GetFullPath(MarkdownPath(jsonPath)), s => s.Write(Encoding.UTF8.GetBytes(ToMarkdown(report))));
        AtomicFile.Write(Path.GetFullPath(HtmlPath(jsonPath)), s => s.Write(Encoding.UTF8.GetBytes(HtmlReportWriter.ToHtml(report))));
    }

    public static string ToMarkdown(CompressionReport report)
    {
        var md = new StringBuilder();
        md.AppendLine("# ModelBuild compression report").AppendLine();
        md.AppendLine("| | path | bytes | parameters | latency (us, batch 1) | accuracy (%) | agreement (%) |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
        Row(md, "teacher", report.Teacher);
        foreach (var s in report.Stages) Row(md, $"after {s.Name} ({F(s.Seconds)} s{(s.CacheHit ? ", from the stage cache" : "")})", s);
        Row(md, "**result**", report.Result);
        if (report.Teacher.Bytes > 0 && report.Result.Bytes > 0)
            md.AppendLine().AppendLine(FormattableString.Invariant($"Size: {report.Result.Bytes / (double)report.Teacher.Bytes:0.000}x of the teacher."));
        if (report.CacheKey is not null) md.AppendLine().AppendLine($"Cache key: `{report.CacheKey}`");
        if (report.Inputs.Count > 0) md.AppendLine().AppendLine($"Inputs: {string.Join("; ", report.Inputs)}.");
        if (report.MetricOutput is not null) md.AppendLine().AppendLine($"Accuracy and agreement are computed on the output `{report.MetricOutput}`.");
        if (report.Session is { } session)
        {
            var measured = session["measured"];
            md.AppendLine().AppendLine(FormattableString.Invariant(
                $"Session settings for the runtime pool (`<model>.session.json`, timed at batch 1 on {measured?["processorCount"]} cores): intra-op threads {session["intraOpThreads"]}, inter-op threads {session["interOpThreads"]}, optimization `{session["graphOptimizationLevel"]}`, execution `{session["executionMode"]}`: {measured?["chosenMicroseconds"]} us against {measured?["defaultMicroseconds"]} us with the pool's default."));
        }
        if (report.Warnings.Count > 0)
        {
            md.AppendLine().AppendLine("## Warnings").AppendLine();
            foreach (var w in report.Warnings) md.AppendLine($"- {w}");
        }
        foreach (var s in report.Stages.Where(s => s.Details is not null))
        {
            md.AppendLine().AppendLine($"## {s.Name}").AppendLine();
            Details(md, s.Details!);
        }
        if (report.Details is not null)
        {
            md.AppendLine().AppendLine("## Details").AppendLine();
            Details(md, report.Details);
        }
        return md.ToString();
    }

    private static void Row(StringBuilder md, string label, ModelFigures f) =>
        md.AppendLine($"| {label} | `{Path.GetFileName(f.Path)}` | {f.Bytes:N0} | {f.Parameters:N0} | {F(f.LatencyMicroseconds)} | {F(f.Accuracy)} | {F(f.Agreement)} |");

    private static string F(double? v) => v is null ? "-" : v.Value.ToString(Math.Abs(v.Value) >= 100 ? "N1" : "0.00", CultureInfo.InvariantCulture);

    /// <summary>Scalars become a list, arrays of objects become tables, nested objects sub-sections.</summary>
    private static void Details(StringBuilder md, JsonObject details)
    {
        foreach (var (key, value) in details)
        {
            switch (value)
            {
                case JsonArray array when array.Count > 0 && array.All(a => a is JsonObject):
                    md.AppendLine().AppendLine($"**{key}**").AppendLine();
                    var columns = array.Cast<JsonObject>().SelectMany(o => o.Select(p => p.Key)).Distinct().ToList();
                    md.AppendLine("| " + string.Join(" | ", columns) + " |");
                    md.AppendLine("|" + string.Concat(columns.Select(_ => " --- |")));
                    foreach (var o in array.OfType<JsonObject>())
                        md.AppendLine("| " + string.Join(" | ", columns.Select(c => Cell(o[c]))) + " |");
                    md.AppendLine();
                    break;
                case JsonArray array:
                    md.AppendLine($"- {key}: {(array.Count == 0 ? "(none)" : string.Join(", ", array.Select(Cell)))}");
                    break;
                case JsonObject nested:
                    md.AppendLine().AppendLine($"**{key}**").AppendLine();
                    Details(md, nested);
                    break;
                default:
                    md.AppendLine($"- {key}: {Cell(value)}");
                    break;
            }
        }
    }

    private static string Cell(JsonNode? node) => node switch
    {
        null => "-",
        JsonValue v when v.TryGetValue<double>(out var d) => d.ToString(Math.Abs(d) >= 1000 ? "N0" : "0.###", CultureInfo.InvariantCulture),
        JsonValue v => v.ToString().Replace("|", "\\|"),
        JsonArray a when a.All(x => x is JsonValue) => a.Count == 0 ? "none" : string.Join(", ", a.Select(Cell)),
        _ => node.ToJsonString().Replace("|", "\\|"),
    };
}
