using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace ModelBuild.TestSupport;

/// <summary>
/// Records every MBxxxx code the product produced while a test assembly ran, so .ci/check-produced-codes can require
/// each code documented in docs/diagnostics.md to have been produced by running the product (not merely named in a
/// test's source). Compiled into every test project (Directory.Build.targets). Three ways in:
/// a ModelBuildException/ModelRuntimeException/TaskDiagnosticException thrown by product code in this process (first
/// chance, so one the product catches and turns into a warning counts too); text the product printed (CLI and worker
/// output, `dotnet build` output, the pipeline's protocol log), fed through <see cref="Observe(string?)"/> by the
/// helpers that run it; and codes the MSBuild task logged to a test's build engine (<see cref="ObserveCode"/>).
/// Each new code is appended at once to artifacts/produced-codes/&lt;assembly&gt;.&lt;pid&gt;.txt (or the folder in
/// MODELBUILD_PRODUCED_CODES_DIR), so a crashed or killed test host still leaves what it saw.
/// </summary>
internal static class ProducedCodes
{
    private static readonly Regex Code = new(@"^MB\d{4}$", RegexOptions.Compiled);

    /// <summary>How the product prints a code: "error MB0001: ...", "warning MB0205: ...", "[mb warning MB0205] ...",
    /// and the JSON forms ("code": "MB0001"). A code named in a remedy ("see MB0205") is not a produced code.</summary>
    private static readonly Regex Printed = new(@"\b(?:error|warning) (MB\d{4})\b|""code""\s*:\s*""(MB\d{4})""", RegexOptions.Compiled);

    private static readonly ConcurrentDictionary<string, byte> Seen = new(StringComparer.Ordinal);
    private static readonly object FileGate = new();
    private static string? _file;

    [ModuleInitializer]
    internal static void Start()
    {
        AppDomain.CurrentDomain.FirstChanceException += (_, e) =>
        {
            try { ObserveException(e.Exception); } catch { /* recording must never change what a test sees */ }
        };
    }

    private static void ObserveException(Exception exception)
    {
        var thrower = exception.TargetSite?.Module.Assembly.GetName().Name ?? "";
        // Thrown by the product, not constructed by a test (a fake worker or a test's own `throw new ...`).
        if (!thrower.StartsWith("ModelBuild.", StringComparison.Ordinal) || thrower.EndsWith("Tests", StringComparison.Ordinal)) return;
        var property = exception.GetType().GetProperty("Code", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance);
        if (property?.GetValue(exception) is string code) ObserveCode(code);
    }

    /// <summary>Records the codes printed in text the product wrote (stdout, stderr, a build log).</summary>
    public static string? Observe(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text;
        foreach (Match m in Printed.Matches(text)) ObserveCode(m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value);
        return text;
    }

    /// <summary>Records a code the product handed over as a value (a build event's Code, a logger's event).</summary>
    public static void ObserveCode(string? code)
    {
        if (code is null || !Code.IsMatch(code) || !Seen.TryAdd(code, 0)) return;
        lock (FileGate)
        {
            try { File.AppendAllText(_file ??= FilePath(), code + Environment.NewLine); }
            catch (IOException) { /* a full disk fails the check later, honestly: the code is missing */ }
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>A writer that passes every line through <see cref="Observe(string?)"/>: for a log the product writes in-process.</summary>
    public static TextWriter Observing(TextWriter inner) => new ObservingWriter(inner);

    private sealed class ObservingWriter(TextWriter inner) : TextWriter
    {
        public override System.Text.Encoding Encoding => inner.Encoding;
        public override void Write(char value) => inner.Write(value);
        public override void Write(string? value) { Observe(value); inner.Write(value); }
        public override void WriteLine(string? value) { Observe(value); inner.WriteLine(value); }
        public override void Flush() => inner.Flush();
        public override string ToString() => inner.ToString() ?? "";
    }

    private static string FilePath()
    {
        var folder = Environment.GetEnvironmentVariable("MODELBUILD_PRODUCED_CODES_DIR");
        if (string.IsNullOrEmpty(folder))
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln"))) dir = dir.Parent;
            folder = Path.Combine(dir?.FullName ?? AppContext.BaseDirectory, "artifacts", "produced-codes");
        }
        Directory.CreateDirectory(folder);
        var assembly = Assembly.GetExecutingAssembly().GetName().Name;
        return Path.Combine(folder, $"{assembly}.{Environment.ProcessId}.txt");
    }
}
