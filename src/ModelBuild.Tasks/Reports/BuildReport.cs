using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx;
using ModelBuild.Tasks.Cache;

namespace ModelBuild.Tasks.Reports;

/// <summary>
/// The item's reports in obj/ (JSON, Markdown, HTML copied from a cache entry or a staging folder) and the two
/// sentences the worker wrote into the JSON report, forwarded as they are: the summary line and the gate's figures.
/// </summary>
internal static class BuildReport
{
    public static void CopyFrom(string entryDirectory, string reportPath)
    {
        var json = Path.Combine(entryDirectory, ModelCache.ReportFile);
        if (File.Exists(json)) AtomicFile.Copy(json, reportPath);
        var markdown = Path.Combine(entryDirectory, ModelCache.MarkdownReportFile);
        if (File.Exists(markdown)) AtomicFile.Copy(markdown, Path.ChangeExtension(reportPath, ".md"));
        var html = Path.Combine(entryDirectory, ModelCache.HtmlReportFile);
        if (File.Exists(html)) AtomicFile.Copy(html, Path.ChangeExtension(reportPath, ".html"));
    }

    /// <summary><c>ModelBuild: models/wine.onnx: &lt;the worker's summary&gt; (&lt;how&gt;)</c></summary>
    public static void LogSummary(TaskLoggingHelper log, string name, string reportPath, string how)
    {
        var summary = File.Exists(reportPath) ? CompressionReport.FromJson(File.ReadAllText(reportPath)).Summary : null;
        log.LogMessage(MessageImportance.High, summary is null ? $"ModelBuild: {name}: ({how}; no report)" : $"ModelBuild: {name}: {summary} ({how})");
    }

    /// <summary>The figures the failed gate judged, as the worker stated them.</summary>
    public static string GateFigures(string reportPath) =>
        !File.Exists(reportPath) ? "no report was written"
        : CompressionReport.FromJson(File.ReadAllText(reportPath)).Gate ?? "the report states no gate figures";
}
