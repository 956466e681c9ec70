using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Tasks.Worker;

/// <summary>
/// Forwards the compress worker's protocol lines (<see cref="WorkerProtocol"/>) to MSBuild: progress and stage lines
/// as messages, warnings and errors with their MB codes on the item, other output at low importance. Counts errors.
/// </summary>
/// <remarks>
/// <paramref name="workerReport"/> is where this run's worker writes its report (a fresh staging folder), so the file
/// exists only once this run wrote it; <paramref name="reportPath"/> is the copy in obj/ that errors point at.
/// </remarks>
internal sealed class WorkerLineForwarder(TaskLoggingHelper log, string itemSpec, string name, string reportPath, string workerReport)
{
    public int Errors { get; private set; }

    public void Forward(string line, bool isError)
    {
        if (!WorkerProtocol.TryParse(line, out var kind, out var code, out var text))
        {
            log.LogMessage(MessageImportance.Low, $"  {name}: {line}");
            return;
        }
        var message = Message(text);
        switch (kind)
        {
            case "progress":
                log.LogMessage(MessageImportance.Normal, $"  {name}: {text}");
                break;
            case "stage":
                log.LogMessage(MessageImportance.Normal, $"  {name}: stage {text}");
                break;
            case "warning":
                log.LogWarning("ModelBuild", code, null, itemSpec, 0, 0, 0, 0, $"{name}: {message}");
                break;
            case "error":
                // Only a report this run wrote (a gate's verdict): an input error (MB0503, MB0507...) comes before any
                // report, and the one in obj/ may be a stale one from an earlier build.
                var gate = File.Exists(workerReport) && !message.Contains(reportPath) ? $" Report: {reportPath}" : "";
                log.LogError("ModelBuild", code, null, itemSpec, 0, 0, 0, 0, $"{name}: {message}{gate}");
                Errors++;
                break;
            case "summary":
                log.LogMessage(MessageImportance.Low, $"  {name}: {text}");
                break;
            default:
                log.LogMessage(isError ? MessageImportance.Normal : MessageImportance.Low, $"  {name}: {line}");
                break;
        }
    }

    /// <summary>"cause | remedy" as MSBuild shows it: "cause Fix: remedy", in the item's metadata words (<see cref="InMetadataWords"/>).</summary>
    public static string Message(string text)
    {
        var parts = InMetadataWords(text).Split([" | "], 2, StringSplitOptions.None);
        return parts.Length == 2 ? $"{parts[0]} Fix: {parts[1]}" : parts[0];
    }

    /// <summary>A command-line option, its value (a word, a number, a &lt;placeholder&gt;) and a parenthesis after it.</summary>
    private static readonly Regex Option = new(
        @"(?<![\w-])--(?<name>[a-z0-9]+(?:-[a-z0-9]+)*)(?![\w-])(?: (?<value><[^<>\s]+>|[A-Za-z0-9][\w+-]*(?:\.[\w+-]+)*))?(?<paren> \([^()]*\))?",
        RegexOptions.CultureInvariant);

    /// <summary>"MaxAccuracyDrop (MaxAccuracyDrop)", left when a message named both spellings.</summary>
    private static readonly Regex Repeated = new(@"\b(?<name>[A-Z]\w*) \(\k<name>\)", RegexOptions.CultureInvariant);

    /// <summary>
    /// The worker words its messages for the command line (<c>Pass --force</c>); in a build the user writes item
    /// metadata, so each option of the recipe schema becomes its metadata (<c>Force="true"</c>,
    /// <c>Quantize="int8-dynamic"</c>, <c>CalibrationData</c>). A parenthesis that already names the metadata is dropped;
    /// options with no metadata (<c>--latency-runs</c>, <c>--help</c>) stay as they are.
    /// </summary>
    public static string InMetadataWords(string text)
    {
        var translated = Option.Replace(text, m =>
        {
            var option = "--" + m.Groups["name"].Value;
            if (RecipeSchema.ByOption(option) is not { } setting) return m.Value;
            var value = m.Groups["value"];
            var takesValue = value.Success && setting.Kind switch
            {
                SettingKind.Bool => false,
                SettingKind.Word => setting.Words.Contains(value.Value, StringComparer.OrdinalIgnoreCase) || value.Value.StartsWith('<'),
                SettingKind.Number or SettingKind.Integer => double.TryParse(value.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out _) || value.Value.StartsWith('<') || value.Value == "N",
                _ => value.Value.StartsWith('<'),
            };
            var metadata = setting.Kind == SettingKind.Bool ? $"{setting.Metadata}=\"true\""
                : takesValue ? $"{setting.Metadata}=\"{value.Value}\"" : setting.Metadata;
            var rest = value.Success && !takesValue ? " " + value.Value : "";
            var paren = m.Groups["paren"].Value;
            // "(Distill=\"true\" on the item)", "(EvaluationLabels on the item)": said already.
            if (paren.Length > 0 && Regex.IsMatch(paren, $@"\b{setting.Metadata}\b")) paren = "";
            return metadata + rest + paren;
        });
        return Repeated.Replace(translated, m => m.Groups["name"].Value);
    }
}
