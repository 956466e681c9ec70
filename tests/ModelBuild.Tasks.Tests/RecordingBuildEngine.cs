using System.Collections;
using System.Collections.Concurrent;
using Microsoft.Build.Framework;

namespace ModelBuild.Tasks.Tests;

/// <summary>An IBuildEngine that keeps what the task logged, so tests can assert on codes and messages.</summary>
internal sealed class RecordingBuildEngine : IBuildEngine
{
    public ConcurrentQueue<BuildErrorEventArgs> Errors { get; } = new();
    public ConcurrentQueue<BuildWarningEventArgs> Warnings { get; } = new();
    public ConcurrentQueue<BuildMessageEventArgs> Messages { get; } = new();

    public bool ContinueOnError => false;
    public int LineNumberOfTaskNode => 0;
    public int ColumnNumberOfTaskNode => 0;
    public string ProjectFileOfTaskNode => "test.csproj";

    public void LogErrorEvent(BuildErrorEventArgs e) { TaskOwn(e.Code); Errors.Enqueue(e); }
    public void LogWarningEvent(BuildWarningEventArgs e) { TaskOwn(e.Code); Warnings.Enqueue(e); }

    // Only the task's own codes (MB06xx) count as produced here: other codes come from the fake workers these tests
    // write, that is from the test, not the product.
    private static void TaskOwn(string? code)
    {
        if (code is not null && code.StartsWith("MB06", StringComparison.Ordinal)) ModelBuild.TestSupport.ProducedCodes.ObserveCode(code);
    }
    public void LogMessageEvent(BuildMessageEventArgs e) => Messages.Enqueue(e);
    public void LogCustomEvent(CustomBuildEventArgs e) { }
    public bool BuildProjectFile(string projectFileName, string[] targetNames, IDictionary globalProperties, IDictionary targetOutputs) => throw new NotSupportedException();

    public string AllText => string.Join("\n", Messages.Select(m => m.Message).Concat(Warnings.Select(w => $"warning {w.Code}: {w.Message}")).Concat(Errors.Select(e => $"error {e.Code}: {e.Message}")));
}
