namespace ModelBuild.Compression.StageContract;

/// <summary>Where the pipeline reports progress, stage times, warnings and the summary.</summary>
public interface IWorkerLog
{
    void Progress(string text);
    void Stage(string name, double seconds);
    void Warning(string code, string cause, string remedy);
    void Error(string code, string cause, string remedy);
    void Summary(string text);
}
