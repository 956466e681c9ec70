using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Pipeline;

/// <summary>
/// The report as one self-contained HTML page: inline CSS and inline SVG charts drawn here, no script, no external
/// request (it is opened from build folders and CI artifacts, often offline). Charts: size, latency and accuracy per
/// stage; accuracy against size for every candidate tried (the <c>candidates</c> arrays stages put in their Details);
/// per-layer SQNR (<c>layerSqnr</c>). Every string from the report is HTML-encoded; numbers use the invariant culture
/// and nothing time- or machine-dependent is added, so the same report gives byte-identical HTML.
/// </summary>
public static class HtmlReportWriter
{
    private const string Style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff;max-width:1100px}
        h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
        h3{font-size:14px;margin:16px 0 6px}
        table{border-collapse:collapse;font-size:13px;margin:6px 0;max-width:100%}td{overflow-wrap:anywhere}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
        td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f6f8fa}
        .charts{display:flex;flex-wrap:wrap;gap:16px}
        svg.chart{border:1px solid #d0d7de;border-radius:4px;background:#fff}
        svg text{font-size:11px;fill:#1b1f24}svg text.title{font-size:12px;font-weight:600}
        .axis{stroke:#8c959f;stroke-width:1}.grid{stroke:#eaeef2;stroke-width:1}
        rect.bar{fill:#0969da}rect.bar.result{fill:#1a7f37}rect.bar.float{fill:#cf222e}
        circle.point{fill:#0969da;fill-opacity:.8;stroke:#fff}circle.point.failed{fill:#8c959f}circle.point.chosen{fill:#1a7f37}circle.point.unchecked{fill:#fff;stroke:#0969da;stroke-width:2}
        path.reference{fill:#cf222e}
        .muted{color:#57606a;font-size:12px}code{font-size:12px}
        ul.warnings li{color:#9a6700}
        """;

    public static string ToHtml(CompressionReport report)
    {
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
         .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
         .Append("<title>ModelBuild compression report: ").Append(E(Path.GetFileName(report.Result.Path))).Append("</title>\n")
         .Append("<style>\n").Append(Style).Append("</style>\n</head>\n<body>\n")
         .Append("<h1>ModelBuild compression report</h1>\n");

        Summary(h, report);

        var rows = new List<(string Label, ModelFigures Figures, string Css)> { ("teacher", report.Teacher, "") };
        for (var i = 0; i < report.Stages.Count; i++)
            rows.Add((report.Stages[i].Name, report.Stages[i], i == report.Stages.Count - 1 ? "result" : ""));
        h.Append("<h2>Per stage</h2>\n<div class=\"charts\">\n");
        BarChart(h, "chart-size", "Size (KB)", rows.Select(r => (r.Label, (double?)(r.Figures.Bytes / 1024.0), r.Css)).ToList(), "0.0");
        BarChart(h, "chart-latency", "Latency (us, batch 1)", rows.Select(r => (r.Label, r.Figures.LatencyMicroseconds, r.Css)).ToList(), "0.0");
        BarChart(h, "chart-accuracy", "Accuracy (%)", rows.Select(r => (r.Label, r.Figures.Accuracy, r.Css)).ToList(), "0.00");
        h.Append("</div>\n");

        var sources = DetailSources(report).ToList();
        var candidates = sources.SelectMany(s => Objects(s.Details, "candidates").Select(c => (s.Name, Candidate: c))).ToList();
        if (candidates.Count > 0)
        {
            h.Append("<h2>Candidates: accuracy against size</h2>\n");
            Scatter(h, report, candidates);
        }
        foreach (var (name, details) in sources)
        {
            var layers = Objects(details, "layerSqnr").ToList();
            if (layers.Count == 0) continue;
            h.Append("<h2>Per-layer sensitivity (").Append(E(name)).Append(")</h2>\n")
             .Append("<p class=\"muted\">SQNR of each quantized node's output against the float model on the calibration data; higher is better, ")
             .Append("red marks layers kept in float.</p>\n");
            SqnrChart(h, "chart-sqnr-" + Id(name), layers);
        }

        if (report.Warnings.Count > 0)
        {
            h.Append("<h2>Warnings</h2>\n<ul class=\"warnings\">\n");
            foreach (var w in report.Warnings) h.Append("<li>").Append(E(w)).Append("</li>\n");
            h.Append("</ul>\n");
        }
        foreach (var (name, details) in sources)
        {
            h.Append("<h2>Details: ").Append(E(name)).Append("</h2>\n");
            Details(h, details);
        }
        if (report.CacheKey is not null) h.Append("<p class=\"muted\">Cache key: <code>").Append(E(report.CacheKey)).Append("</code></p>\n");
        h.Append("</body>\n</html>\n");
        return h.ToString();
    }

    private static IEnumerable<(string Name, JsonObject Details)> DetailSources(CompressionReport report)
    {
        foreach (var s in report.Stages)
            if (s.Details is not null) yield return (s.Name, s.Details);
        if (report.Details is not null) yield return ("report", report.Details);
    }

    private static IEnumerable<JsonObject> Objects(JsonObject details, string key) =>
        details[key] is JsonArray a ? a.OfType<JsonObject>() : [];

    private static void Summary(StringBuilder h, CompressionReport r)
    {
        h.Append("<table class=\"summary\">\n<tr><th></th><th>file</th><th>bytes</th><th>parameters</th><th>latency (us, batch 1)</th><th>accuracy (%)</th><th>agreement (%)</th><th>seconds</th></tr>\n");
        void Row(string label, ModelFigures f, double? seconds) =>
            h.Append("<tr><th>").Append(E(label)).Append("</th><td><code>").Append(E(Path.GetFileName(f.Path))).Append("</code></td>")
             .Append("<td class=\"n\">").Append(N(f.Bytes, "N0")).Append("</td><td class=\"n\">").Append(N(f.Parameters, "N0")).Append("</td>")
             .Append("<td class=\"n\">").Append(N(f.LatencyMicroseconds, "0.0")).Append("</td><td class=\"n\">").Append(N(f.Accuracy, "0.00")).Append("</td>")
             .Append("<td class=\"n\">").Append(N(f.Agreement, "0.00")).Append("</td><td class=\"n\">").Append(N(seconds, "0.00")).Append("</td></tr>\n");
        Row("teacher", r.Teacher, null);
        foreach (var s in r.Stages) Row("after " + s.Name, s, s.Seconds);
        Row("result", r.Result, null);
        h.Append("</table>\n");
        if (r.Teacher.Bytes > 0 && r.Result.Bytes > 0)
        {
            h.Append("<p>Result: <strong>").Append(N(r.Teacher.Bytes / (double)r.Result.Bytes, "0.00")).Append("x smaller</strong> than the teacher");
            if (r.Teacher.LatencyMicroseconds is { } tl && r.Result.LatencyMicroseconds is { } rl && rl > 0)
                h.Append(", <strong>").Append(N(tl / rl, "0.00")).Append("x</strong> its speed at batch 1");
            if (r.Teacher.Accuracy is { } ta && r.Result.Accuracy is { } ra)
                h.Append(", accuracy ").Append(N(ra - ta, "+0.00;-0.00;0.00")).Append(" points");
            h.Append(".</p>\n");
        }
    }

    // Charts: fixed pixel geometry so the output is deterministic and readable without script.
    private const int BarWidth = 340, BarHeight = 240, Left = 56, Right = 12, Top = 38, Bottom = 44;

    private static void BarChart(StringBuilder h, string id, string title, IReadOnlyList<(string Label, double? Value, string Css)> items, string format)
    {
        var max = items.Max(i => i.Value ?? 0);
        var scaleMax = NiceCeiling(max);
        var plotW = BarWidth - Left - Right;
        var plotH = BarHeight - Top - Bottom;
        h.Append("<svg class=\"chart bars\" id=\"").Append(id).Append("\" width=\"").Append(BarWidth)
         .Append("\" height=\"").Append(BarHeight).Append("\" viewBox=\"0 0 ").Append(BarWidth).Append(' ').Append(BarHeight)
         .Append("\" role=\"img\" aria-label=\"").Append(E(title)).Append("\">\n");
        h.Append("<text class=\"title\" x=\"").Append(Left).Append("\" y=\"16\">").Append(E(title)).Append("</text>\n");
        for (var t = 0; t <= 4; t++)
        {
            var v = scaleMax * t / 4;
            var y = Top + plotH - plotH * t / 4.0;
            h.Append("<line class=\"grid\" x1=\"").Append(P(Left)).Append("\" x2=\"").Append(P(Left + plotW)).Append("\" y1=\"").Append(P(y)).Append("\" y2=\"").Append(P(y)).Append("\"/>")
             .Append("<text x=\"").Append(P(Left - 4)).Append("\" y=\"").Append(P(y + 4)).Append("\" text-anchor=\"end\">").Append(N(v, "0.###")).Append("</text>\n");
        }
        var slot = plotW / (double)items.Count;
        var barW = Math.Min(56, slot * 0.6);
        for (var i = 0; i < items.Count; i++)
        {
            var (label, value, css) = items[i];
            var cx = Left + slot * (i + 0.5);
            if (value is { } v && scaleMax > 0)
            {
                var bh = plotH * v / scaleMax;
                h.Append("<rect class=\"bar").Append(css.Length > 0 ? " " + css : "").Append("\" x=\"").Append(P(cx - barW / 2)).Append("\" y=\"").Append(P(Top + plotH - bh))
                 .Append("\" width=\"").Append(P(barW)).Append("\" height=\"").Append(P(bh)).Append("\" data-value=\"").Append(N(v, "R")).Append("\"><title>")
                 .Append(E(label)).Append(": ").Append(N(v, format)).Append("</title></rect>")
                 .Append("<text class=\"value\" x=\"").Append(P(cx)).Append("\" y=\"").Append(P(Top + plotH - bh - 3)).Append("\" text-anchor=\"middle\">").Append(N(v, format)).Append("</text>\n");
            }
            else
            {
                h.Append("<text class=\"value missing\" x=\"").Append(P(cx)).Append("\" y=\"").Append(P(Top + plotH - 3)).Append("\" text-anchor=\"middle\">n/a</text>\n");
            }
            h.Append("<text class=\"label\" x=\"").Append(P(cx)).Append("\" y=\"").Append(P(Top + plotH + 16)).Append("\" text-anchor=\"middle\">").Append(E(label)).Append("</text>\n");
        }
        h.Append("<line class=\"axis\" x1=\"").Append(Left).Append("\" x2=\"").Append(Left + plotW).Append("\" y1=\"").Append(Top + plotH).Append("\" y2=\"").Append(Top + plotH).Append("\"/>\n");
        h.Append("</svg>\n");
    }

    private static void Scatter(StringBuilder h, CompressionReport report, List<(string Stage, JsonObject Candidate)> candidates)
    {
        const int w = 560, ht = 330, left = 64, right = 90, top = 34, bottom = 48;
        var points = candidates.Select(c => (c.Stage, c.Candidate, Bytes: Num(c.Candidate["bytes"]), Accuracy: Num(c.Candidate["accuracy"]) ?? Num(c.Candidate["agreement"]))).ToList();
        // The chosen candidate is drawn last so that it stays visible when candidates coincide.
        var plotted = points.Where(p => p.Bytes is not null && p.Accuracy is not null)
            .OrderBy(p => IsChosen(report, p.Stage, Str(p.Candidate["form"]) ?? "") ? 1 : 0).ToList();
        var usesAgreement = candidates.All(c => Num(c.Candidate["accuracy"]) is null);
        var xs = plotted.Select(p => p.Bytes!.Value).Append(report.Teacher.Bytes).ToList();
        var teacherY = usesAgreement ? 100.0 : report.Teacher.Accuracy;
        var ys = plotted.Select(p => p.Accuracy!.Value).Concat(teacherY is { } ta ? [ta] : []).ToList();
        var xMax = NiceCeiling(xs.Max() / 1024) * 1024;
        var (yMin, yMax) = ys.Count == 0 ? (0.0, 100.0) : (Math.Floor(ys.Min() - 1), Math.Min(100, Math.Ceiling(ys.Max() + 1)));
        if (yMax <= yMin) yMax = yMin + 1;
        var pw = w - left - right; var ph = ht - top - bottom;
        double X(double b) => left + pw * b / xMax;
        double Y(double a) => top + ph - ph * (a - yMin) / (yMax - yMin);
        var yName = usesAgreement ? "agreement with the teacher (%)" : "accuracy (%)";

        h.Append("<svg class=\"chart scatter\" id=\"chart-candidates\" width=\"").Append(w).Append("\" height=\"").Append(ht)
         .Append("\" viewBox=\"0 0 ").Append(w).Append(' ').Append(ht).Append("\" role=\"img\" aria-label=\"").Append(E(yName)).Append(" against size\">\n");
        for (var t = 0; t <= 4; t++)
        {
            var xv = xMax * t / 4; var yv = yMin + (yMax - yMin) * t / 4;
            h.Append("<line class=\"grid\" x1=\"").Append(P(X(xv))).Append("\" x2=\"").Append(P(X(xv))).Append("\" y1=\"").Append(top).Append("\" y2=\"").Append(top + ph).Append("\"/>")
             .Append("<text x=\"").Append(P(X(xv))).Append("\" y=\"").Append(top + ph + 14).Append("\" text-anchor=\"middle\">").Append(N(xv / 1024, "0.#")).Append("</text>")
             .Append("<line class=\"grid\" x1=\"").Append(left).Append("\" x2=\"").Append(left + pw).Append("\" y1=\"").Append(P(Y(yv))).Append("\" y2=\"").Append(P(Y(yv))).Append("\"/>")
             .Append("<text x=\"").Append(left - 4).Append("\" y=\"").Append(P(Y(yv) + 4)).Append("\" text-anchor=\"end\">").Append(N(yv, "0.##")).Append("</text>\n");
        }
        h.Append("<text x=\"").Append(left + pw / 2).Append("\" y=\"").Append(ht - 8).Append("\" text-anchor=\"middle\">size (KB)</text>")
         .Append("<text x=\"14\" y=\"").Append(top + ph / 2).Append("\" text-anchor=\"middle\" transform=\"rotate(-90 14 ").Append(top + ph / 2).Append(")\">").Append(E(yName)).Append("</text>\n");
        if (teacherY is { } ty)
        {
            var (tx, tyy) = (X(report.Teacher.Bytes), Y(ty));
            h.Append("<path class=\"reference\" d=\"M").Append(P(tx)).Append(' ').Append(P(tyy - 6)).Append("L").Append(P(tx + 6)).Append(' ').Append(P(tyy))
             .Append("L").Append(P(tx)).Append(' ').Append(P(tyy + 6)).Append("L").Append(P(tx - 6)).Append(' ').Append(P(tyy)).Append("Z\"><title>teacher (float): ")
             .Append(N(report.Teacher.Bytes, "N0")).Append(" B, ").Append(N(ty, "0.00")).Append("%</title></path>")
             .Append("<text x=\"").Append(P(tx - 8)).Append("\" y=\"").Append(P(tyy - 8)).Append("\" text-anchor=\"end\">teacher</text>\n");
        }
        for (var k = 0; k < plotted.Count; k++)
        {
            var p = plotted[k];
            var form = Str(p.Candidate["form"]) ?? "candidate";
            var chosen = IsChosen(report, p.Stage, form);
            // A candidate no gate was measured on has no "passed": it is drawn as unchecked, never as passing.
            bool? passed = p.Candidate["passed"] is JsonValue pv && pv.TryGetValue<bool>(out var b) ? b : null;
            var css = chosen ? "point chosen" : passed switch { true => "point", false => "point failed", null => "point unchecked" };
            var (cx, cy) = (X(p.Bytes!.Value), Y(p.Accuracy!.Value));
            h.Append("<circle class=\"").Append(css).Append("\" cx=\"").Append(P(cx)).Append("\" cy=\"").Append(P(cy)).Append("\" r=\"6\" data-form=\"").Append(E(form))
             .Append("\"><title>").Append(E(form)).Append(": ").Append(N(p.Bytes.Value, "N0")).Append(" B, ").Append(N(p.Accuracy.Value, "0.00")).Append('%');
            if (Str(p.Candidate["reason"]) is { } reason) h.Append(" (").Append(E(reason)).Append(')');
            if (p.Candidate["gatesChecked"] is JsonArray gates)
                h.Append("; gates checked: ").Append(E(gates.Count == 0 ? "none" : string.Join(", ", gates.Select(g => Str(g) ?? "?"))));
            h.Append("</title></circle><text class=\"point-label\" x=\"").Append(P(cx + 9)).Append("\" y=\"").Append(P(cy - 8 + 12 * (k % 3))).Append("\">").Append(E(form)).Append("</text>\n");
        }
        h.Append("<line class=\"axis\" x1=\"").Append(left).Append("\" x2=\"").Append(left + pw).Append("\" y1=\"").Append(top + ph).Append("\" y2=\"").Append(top + ph).Append("\"/>")
         .Append("<line class=\"axis\" x1=\"").Append(left).Append("\" x2=\"").Append(left).Append("\" y1=\"").Append(top).Append("\" y2=\"").Append(top + ph).Append("\"/>\n</svg>\n");
        h.Append("<p class=\"muted\">Green: the chosen candidate; blue: passed the gates it was checked on; hollow: no gate checked; grey: rejected (hover for the reason and the gates checked); red diamond: the float teacher.");
        if (plotted.Count < points.Count) h.Append(' ').Append(points.Count - plotted.Count).Append(" candidate(s) without size or accuracy are listed below but not plotted.");
        h.Append("</p>\n");
    }

    private static bool IsChosen(CompressionReport report, string stage, string form) =>
        DetailSources(report).Any(s => s.Name == stage && Str(s.Details["chosen"]) == form);

    private static void SqnrChart(StringBuilder h, string id, List<JsonObject> layers)
    {
        const int w = 640, left = 230, right = 60, top = 8, row = 16;
        var ht = top + row * layers.Count + 24;
        var values = layers.Select(l => Num(l["sqnrDb"])).ToList();
        var max = NiceCeiling(values.Max(v => v ?? 0));
        var pw = w - left - right;
        h.Append("<svg class=\"chart sqnr\" id=\"").Append(id).Append("\" width=\"").Append(w).Append("\" height=\"").Append(ht)
         .Append("\" viewBox=\"0 0 ").Append(w).Append(' ').Append(ht).Append("\" role=\"img\" aria-label=\"per-layer SQNR (dB)\">\n");
        for (var i = 0; i < layers.Count; i++)
        {
            var node = Str(layers[i]["node"]) ?? "?";
            var op = Str(layers[i]["op"]) ?? "";
            var keptFloat = layers[i]["float"] is JsonValue fv && fv.TryGetValue<bool>(out var f) && f;
            var y = top + row * i;
            h.Append("<text x=\"").Append(left - 6).Append("\" y=\"").Append(y + 12).Append("\" text-anchor=\"end\">").Append(E(Shorten(node, 34))).Append(" (").Append(E(op)).Append(")</text>");
            if (values[i] is { } v && max > 0)
            {
                var bw = pw * Math.Max(0, v) / max;
                h.Append("<rect class=\"bar").Append(keptFloat ? " float" : "").Append("\" x=\"").Append(left).Append("\" y=\"").Append(y + 2).Append("\" width=\"").Append(P(bw))
                 .Append("\" height=\"").Append(row - 4).Append("\" data-value=\"").Append(N(v, "R")).Append("\"><title>").Append(E(node)).Append(": ").Append(N(v, "0.00"))
                 .Append(" dB</title></rect><text class=\"value\" x=\"").Append(P(left + bw + 4)).Append("\" y=\"").Append(y + 12).Append("\">").Append(N(v, "0.0")).Append("</text>");
            }
            else
            {
                h.Append("<text class=\"value missing\" x=\"").Append(left + 4).Append("\" y=\"").Append(y + 12).Append("\">exact (no error)</text>");
            }
            h.Append('\n');
        }
        var axisY = top + row * layers.Count + 2;
        h.Append("<line class=\"axis\" x1=\"").Append(left).Append("\" x2=\"").Append(left + pw).Append("\" y1=\"").Append(axisY).Append("\" y2=\"").Append(axisY).Append("\"/>");
        for (var t = 0; t <= 4; t++)
            h.Append("<text x=\"").Append(P(left + pw * t / 4.0)).Append("\" y=\"").Append(axisY + 14).Append("\" text-anchor=\"middle\">").Append(N(max * t / 4, "0.#")).Append(t == 4 ? " dB" : "").Append("</text>");
        h.Append("\n</svg>\n");
    }

    /// <summary>Details as HTML, the same shapes as the Markdown report: scalars a list, arrays of objects a table.</summary>
    private static void Details(StringBuilder h, JsonObject details)
    {
        var scalars = new List<(string, JsonNode?)>();
        foreach (var (key, value) in details)
            if (value is not JsonObject && !(value is JsonArray a && a.Count > 0 && a.All(x => x is JsonObject))) scalars.Add((key, value));
        if (scalars.Count > 0)
        {
            h.Append("<table class=\"details\">\n");
            foreach (var (key, value) in scalars)
                h.Append("<tr><th>").Append(E(key)).Append("</th><td>").Append(value is JsonArray { Count: 0 } ? "(none)" : Cell(value)).Append("</td></tr>\n");
            h.Append("</table>\n");
        }
        foreach (var (key, value) in details)
        {
            if (value is JsonArray array && array.Count > 0 && array.All(x => x is JsonObject))
            {
                h.Append("<h3>").Append(E(key)).Append("</h3>\n<table class=\"details-table\" data-key=\"").Append(E(key)).Append("\">\n<tr>");
                var columns = array.Cast<JsonObject>().SelectMany(o => o.Select(p => p.Key)).Distinct().ToList();
                foreach (var c in columns) h.Append("<th>").Append(E(c)).Append("</th>");
                h.Append("</tr>\n");
                foreach (var o in array.Cast<JsonObject>())
                {
                    h.Append("<tr>");
                    foreach (var c in columns) h.Append(Num(o[c]) is not null ? "<td class=\"n\">" : "<td>").Append(Cell(o[c])).Append("</td>");
                    h.Append("</tr>\n");
                }
                h.Append("</table>\n");
            }
            else if (value is JsonObject nested)
            {
                h.Append("<h3>").Append(E(key)).Append("</h3>\n");
                Details(h, nested);
            }
        }
    }

    private static string Cell(JsonNode? node) => node switch
    {
        null => "-",
        JsonValue when Num(node) is { } d => N(d, Math.Abs(d) >= 1000 ? "N0" : "0.###"),
        JsonValue v when v.TryGetValue<bool>(out var b) => b ? "yes" : "no",
        JsonValue v => E(v.ToString()),
        JsonArray a => E(string.Join(", ", a.Select(x => x is JsonValue xv ? xv.ToString() : x?.ToJsonString() ?? "-"))),
        _ => E(node.ToJsonString()),
    };

    /// <summary>A number, whether the node was parsed from JSON or built in memory from a long, int or double.</summary>
    private static double? Num(JsonNode? node)
    {
        if (node is not JsonValue v) return null;
        double? d = v.TryGetValue<double>(out var x) ? x : v.TryGetValue<long>(out var l) ? l : v.TryGetValue<int>(out var i) ? i
            : v.TryGetValue<float>(out var f) ? f : v.TryGetValue<decimal>(out var m) ? (double)m : null;
        return d is { } r && double.IsFinite(r) ? r : null;
    }
    private static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    /// <summary>1, 2, 2.5 or 5 times a power of ten, at or above <paramref name="v"/>: readable axis ends.</summary>
    private static double NiceCeiling(double v)
    {
        if (v <= 0 || !double.IsFinite(v)) return 1;
        var p = Math.Pow(10, Math.Floor(Math.Log10(v)));
        foreach (var m in new[] { 1, 2, 2.5, 5, 10 })
            if (m * p >= v * (1 - 1e-12)) return m * p;
        return 10 * p;
    }

    private static string Shorten(string s, int max) => s.Length <= max ? s : "\u2026" + s[^(max - 1)..];
    private static string Id(string s) => new(s.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray());
    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
    private static string P(double v) => Math.Round(v, 1).ToString("0.#", CultureInfo.InvariantCulture);
    private static string N(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
    private static string N(double? v, string format) => v is { } d ? N(d, format) : "-";
}
