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

    /// <summary>"cause | remedy" as MSBuild shows it: "cause Fix: remedy".</summary>
    public static string Message(string text)
    {
        var parts = text.Split([" | "], 2, StringSplitOptions.None);
        return parts.Length == 2 ? $"{parts[0]} Fix: {parts[1]}" : text;
    }
}
