using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.StageContract;

namespace ModelBuild.Compression.Pipeline;

/// <summary>A log that keeps the warnings it was given, so the pipeline can put them in the report.</summary>
public interface IRecordsWarnings
{
    List<string> Warnings { get; }
}

/// <summary>Writes <see cref="WorkerProtocol"/> lines (what the MSBuild task parses) to a text writer, stdout by default.</summary>
public sealed class WorkerProtocolLog(TextWriter? writer = null) : IWorkerLog, IRecordsWarnings
{
    private readonly TextWriter _writer = writer ?? Console.Out;
    private readonly object _gate = new();

    public List<string> Warnings { get; } = [];

    private void Write(string line) { lock (_gate) { _writer.WriteLine(line); _writer.Flush(); } }
    public void Progress(string text) => Write(WorkerProtocol.Progress(text));
    public void Stage(string name, double seconds) => Write(WorkerProtocol.Stage(name, seconds));
    public void Warning(string code, string cause, string remedy) { Warnings.Add($"{code}: {cause} | {remedy}"); Write(WorkerProtocol.Warning(code, cause, remedy)); }
    public void Error(string code, string cause, string remedy) => Write(WorkerProtocol.Error(code, cause, remedy));
    public void Summary(string text) => Write(WorkerProtocol.Summary(text));
}
