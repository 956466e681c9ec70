using System.Diagnostics;
using System.Text.Json;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// Debian's chromium, headless, with the network cut off (every host name resolves to nothing) and a net log, so a
/// test can see which requests a page made. Chromium itself fetches a few things at start-up (network time, component
/// updates, account list); those carry no page origin ("not an origin"), while anything a page asks for carries the
/// page's origin in the request's isolation key, so page requests are told apart by that.
/// </summary>
internal static class HeadlessChromium
{
    public static string? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in new[] { "chromium", "chromium-browser" })
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    /// <summary>Skips locally with the reason; fails under CI=true, where .ci/run installs chromium.</summary>
    public static string Require()
    {
        var path = Find();
        if (path is not null) return path;
        const string message = "chromium is not installed (apt-get install -y --no-install-recommends chromium); .ci/run installs it.";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            Assert.Fail(message + " CI=true, so this is a failure, not a skip.");
        Skip.If(true, message);
        return "";
    }

    public sealed record PageLoad(string Dom, IReadOnlyList<string> PageRequests, string Stderr);

    /// <summary>Loads <paramref name="htmlFile"/>, returns the DOM after rendering and the URLs the page requested.</summary>
    public static PageLoad DumpDom(string chromium, string htmlFile, string? screenshot = null)
    {
        var work = Directory.CreateTempSubdirectory("mb-chromium-").FullName;
        try
        {
            var netLog = Path.Combine(work, "net-log.json");
            var start = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[]
                     {
                         "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--user-data-dir=" + Path.Combine(work, "profile"),
                         "--host-resolver-rules=MAP * ~NOTFOUND", "--log-net-log=" + netLog, "--window-size=1200,1000",
                     })
                start.ArgumentList.Add(a);
            start.ArgumentList.Add(screenshot is null ? "--dump-dom" : "--screenshot=" + screenshot);
            start.ArgumentList.Add(new Uri(Path.GetFullPath(htmlFile)).AbsoluteUri);
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("chromium did not finish within 90 s: " + stderr.Result);
            }
            Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {stderr.Result}");
            return new PageLoad(stdout.Result, PageRequests(netLog), stderr.Result);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>URLs of network requests started on behalf of a page (not by the browser itself).</summary>
    private static List<string> PageRequests(string netLog)
    {
        Assert.True(File.Exists(netLog), "chromium wrote no net log");
        using var doc = JsonDocument.Parse(File.ReadAllText(netLog));
        var startJob = doc.RootElement.GetProperty("constants").GetProperty("logEventTypes").GetProperty("URL_REQUEST_START_JOB").GetInt32();
        var urls = new List<string>();
        foreach (var e in doc.RootElement.GetProperty("events").EnumerateArray())
        {
            // The job's begin event carries the URL; its end event only a result code.
            if (e.GetProperty("type").GetInt32() != startJob || !e.TryGetProperty("params", out var p) || !p.TryGetProperty("url", out var url)) continue;
            var initiator = p.TryGetProperty("initiator", out var i) ? i.GetString() : null;
            var isolation = p.TryGetProperty("network_isolation_key", out var k) ? k.GetString() ?? "" : "";
            if (initiator != "not an origin" || isolation.Contains("file://", StringComparison.Ordinal))
                urls.Add(url.GetString() ?? "");
        }
        return urls;
    }
}
