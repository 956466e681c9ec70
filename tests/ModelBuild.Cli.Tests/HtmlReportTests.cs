using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// The HTML report: written by the pipeline beside the JSON, self-contained (no script, no external reference),
/// HTML-encoded, deterministic, and rendered by a real browser (Debian's chromium, headless) without network requests.
/// </summary>
public class HtmlReportTests
{
    private static readonly Lazy<(string Json, string Html)> WineAutoReport = new(() =>
    {
        var dir = Directory.CreateTempSubdirectory("mb-html-test-").FullName;
        var report = Path.Combine(dir, "wine.json");
        var (exit, stdout, stderr) = CliProcess.Run("compress", TestPaths.Wine("teacher.onnx"), "-o", Path.Combine(dir, "wine.onnx"),
            "--quantize", "auto", "--calibration-data", TestPaths.Wine("calib_x.npy"), "--eval-data", TestPaths.Wine("test_x.npy"),
            "--eval-labels", TestPaths.Wine("test_y.npy"), "--report", report, "--latency-runs", "100", "--force");
        Assert.True(exit == 0, stdout + stderr);
        return (report, ReportWriter.HtmlPath(report));
    });

    [Fact]
    public void The_pipeline_writes_a_self_contained_html_report_beside_the_json()
    {
        var (json, html) = WineAutoReport.Value;
        Assert.Equal(Path.ChangeExtension(json, ".html"), html);
        var text = File.ReadAllText(html);
        var report = CompressionReport.FromJson(File.ReadAllText(json));
        var candidates = report.Stages[0].Details!["candidates"]!.AsArray();
        Assert.True(candidates.Count >= 2, "auto should try several forms");

        Assert.DoesNotMatch(new Regex(@"<script|<link|<iframe|<object|<embed|@import|url\(", RegexOptions.IgnoreCase), text);
        Assert.DoesNotMatch(new Regex(@"(src|href)\s*=\s*[""']?\s*(https?:)?//", RegexOptions.IgnoreCase), text);
        Assert.DoesNotContain("http://", text);
        Assert.DoesNotContain("https://", text);
        // Same content as the JSON: the figures appear in the summary table.
        Assert.Contains(report.Teacher.Bytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), text);
        Assert.Contains(report.Result.Bytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), text);
        // Deterministic: rendering the report read back from its JSON gives the same bytes as the pipeline wrote.
        Assert.Equal(text, HtmlReportWriter.ToHtml(report));
    }

    [Fact]
    public void Every_string_from_the_report_is_html_encoded()
    {
        const string hostile = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>";
        var report = new CompressionReport
        {
            Teacher = new ModelFigures { Path = "/m/" + hostile + ".onnx", Bytes = 1000, Accuracy = 90 },
            Result = new ModelFigures { Path = "/m/out.onnx", Bytes = 250, Accuracy = 89 },
            Stages =
            [
                new StageReport
                {
                    Name = hostile, Path = "/m/out.onnx", Bytes = 250, Accuracy = 89, Seconds = 1,
                    Details = new JsonObject
                    {
                        ["chosen"] = hostile,
                        ["candidates"] = new JsonArray(new JsonObject { ["form"] = hostile, ["bytes"] = 250, ["accuracy"] = 89.0, ["reason"] = hostile }),
                        ["layerSqnr"] = new JsonArray(new JsonObject { ["node"] = hostile, ["op"] = hostile, ["sqnrDb"] = 30.0, ["float"] = false }),
                        [hostile] = hostile,
                    },
                },
            ],
            Warnings = [hostile],
            CacheKey = hostile,
        };
        var html = HtmlReportWriter.ToHtml(report);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;", html);
        Assert.Equal(html, HtmlReportWriter.ToHtml(report));
    }

    [Fact]
    public void A_three_stage_report_has_a_bar_per_model_and_marks_missing_figures()
    {
        StageReport Stage(string name, long bytes, double? latency, double? accuracy) =>
            new() { Name = name, Path = $"/m/{name}.onnx", Bytes = bytes, LatencyMicroseconds = latency, Accuracy = accuracy, Seconds = 1 };
        var report = new CompressionReport
        {
            Teacher = new ModelFigures { Path = "/m/teacher.onnx", Bytes = 1_000_000, LatencyMicroseconds = 300, Accuracy = 90 },
            Stages = [Stage("distill", 250_000, 90, 89.5), Stage("prune", 125_000, null, 89.4), Stage("quantize", 40_000, 30, 89.3)],
            Result = new ModelFigures { Path = "/m/out.onnx", Bytes = 40_000, LatencyMicroseconds = 30, Accuracy = 89.3 },
        };
        var html = HtmlReportWriter.ToHtml(report);
        Assert.Equal(4, Regex.Matches(Chart(html, "chart-size"), "<rect class=\"bar").Count);
        Assert.Equal(3, Regex.Matches(Chart(html, "chart-latency"), "<rect class=\"bar").Count);
        Assert.Contains(">n/a<", Chart(html, "chart-latency"));
        Assert.Single(Regex.Matches(Chart(html, "chart-size"), "<rect class=\"bar result\""));
        Assert.DoesNotContain("chart-candidates", html); // no stage tried candidates
        Assert.Contains("25.00x smaller", html);
        Assert.Contains("10.00x</strong> its speed", html);
    }

    [SkippableFact]
    public void Chromium_renders_the_charts_and_the_page_makes_no_request()
    {
        var chromium = HeadlessChromium.Require();
        var (json, html) = WineAutoReport.Value;
        var report = CompressionReport.FromJson(File.ReadAllText(json));
        var details = report.Stages[0].Details!;
        var candidates = details["candidates"]!.AsArray();

        var page = HeadlessChromium.DumpDom(chromium, html);
        Assert.Empty(page.PageRequests);
        var dom = page.Dom;
        Assert.Contains("ModelBuild compression report", dom);
        // One bar per model (teacher + one stage) in each per-stage chart.
        foreach (var id in new[] { "chart-size", "chart-latency", "chart-accuracy" })
            Assert.Equal(1 + report.Stages.Count, Regex.Matches(Chart(dom, id), "<rect class=\"bar").Count);
        // One point per candidate that has a size and an accuracy; the chosen one is marked.
        var scatter = Chart(dom, "chart-candidates");
        Assert.Equal(candidates.Count, Regex.Matches(scatter, "<circle class=\"point").Count);
        Assert.Single(Regex.Matches(scatter, "<circle class=\"point chosen\""));
        Assert.Contains($"data-form=\"{details["chosen"]!.GetValue<string>()}\"", scatter);
        // The figures are in the rendered page.
        Assert.Contains(report.Result.Bytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), dom);
        Assert.Contains(report.Teacher.LatencyMicroseconds!.Value.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture), dom);

        // The screenshot renders non-trivially (a blank page compresses to a few hundred bytes).
        var png = Path.ChangeExtension(html, ".png");
        HeadlessChromium.DumpDom(chromium, html, png);
        Assert.True(new FileInfo(png).Length > 20_000, $"screenshot {png} is {new FileInfo(png).Length} bytes");
    }

    [SkippableFact]
    public void Chromium_renders_the_per_layer_sensitivity_of_the_transformer()
    {
        var chromium = HeadlessChromium.Require();
        var dir = Directory.CreateTempSubdirectory("mb-html-test-").FullName;
        var json = Path.Combine(dir, "intent.json");
        var (exit, stdout, stderr) = CliProcess.Run("compress", TestPaths.Intent("teacher.onnx"), "-o", Path.Combine(dir, "intent.onnx"),
            "--quantize", "int8-dynamic", "--calibration-data", TestPaths.Intent("calib_x.npy"), "--eval-data", TestPaths.Intent("test_x.npy"),
            "--eval-labels", TestPaths.Intent("test_y.npy"), "--report", json, "--latency-runs", "0");
        Assert.True(exit == 0, stdout + stderr);
        var layers = CompressionReport.FromJson(File.ReadAllText(json)).Stages.Single(s => s.Name == "quantize").Details!["layerSqnr"]!.AsArray().OfType<JsonObject>().ToList();
        Assert.NotEmpty(layers);

        var page = HeadlessChromium.DumpDom(chromium, ReportWriter.HtmlPath(json));
        Assert.Empty(page.PageRequests);
        var sqnr = Chart(page.Dom, "chart-sqnr-quantize");
        Assert.Equal(layers.Count(l => l["sqnrDb"] is not null), Regex.Matches(sqnr, "<rect class=\"bar").Count);
        foreach (var layer in layers)
            Assert.Contains(layer["node"]!.GetValue<string>().Length <= 34 ? layer["node"]!.GetValue<string>() : layer["node"]!.GetValue<string>()[^33..], sqnr);
        // Latency was not measured (--latency-runs 0): no bars, "n/a" instead of an invented zero.
        Assert.Empty(Regex.Matches(Chart(page.Dom, "chart-latency"), "<rect class=\"bar"));
        Assert.Contains(">n/a<", Chart(page.Dom, "chart-latency"));
    }

    [SkippableFact]
    public void The_request_check_sees_a_page_that_loads_from_the_web()
    {
        // Proves the net-log check above can fail: a page with external references is caught.
        var chromium = HeadlessChromium.Require();
        var page = Path.Combine(Directory.CreateTempSubdirectory("mb-html-test-").FullName, "external.html");
        File.WriteAllText(page, "<!DOCTYPE html><html><head><link rel=\"stylesheet\" href=\"https://fonts.example.invalid/a.css\"></head>"
            + "<body><img src=\"http://example.invalid/x.png\"></body></html>");
        var load = HeadlessChromium.DumpDom(chromium, page);
        Assert.Contains(load.PageRequests, u => u.StartsWith("http://example.invalid/", StringComparison.Ordinal));
        Assert.Contains(load.PageRequests, u => u.StartsWith("https://fonts.example.invalid/", StringComparison.Ordinal));
    }

    private static string Chart(string dom, string id)
    {
        var m = Regex.Match(dom, $"<svg[^>]*id=\"{id}\"[^>]*>(.*?)</svg>", RegexOptions.Singleline);
        Assert.True(m.Success, $"chart {id} is not in the rendered DOM");
        return m.Value;
    }
}
