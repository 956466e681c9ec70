using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.StageContract;
using Spectre.Console;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// Progress for a person at a terminal: a live status line (calibration, candidates, timing) and one line per finished
/// stage, warning and the summary. Used only when stdout is a terminal; redirected output (the MSBuild task, scripts)
/// gets the <see cref="WorkerProtocolLog"/> lines unchanged, so the two never mix.
/// </summary>
internal sealed class TerminalProgressLog(IAnsiConsole console, StatusContext status) : IWorkerLog, IRecordsWarnings
{
    public List<string> Warnings { get; } = [];

    public void Progress(string text) => status.Status(Markup.Escape(text));

    public void Stage(string name, double seconds) =>
        console.MarkupLineInterpolated($"[green]done[/]  {name} [grey]({seconds:0.00} s)[/]");

    public void Warning(string code, string cause, string remedy)
    {
        Warnings.Add($"{code}: {cause} | {remedy}");
        console.MarkupLineInterpolated($"[yellow]warning {code}[/]: {cause}");
        console.MarkupLineInterpolated($"  [grey]fix:[/] {remedy}");
    }

    public void Error(string code, string cause, string remedy)
    {
        console.MarkupLineInterpolated($"[red]error {code}[/]: {cause}");
        console.MarkupLineInterpolated($"  [grey]fix:[/] {remedy}");
    }

    public void Summary(string text) => console.MarkupLineInterpolated($"[bold]result[/]  {text}");

    /// <summary>Runs <paramref name="work"/> under a spinner whose text follows the pipeline's progress lines.</summary>
    public static T Run<T>(Func<IWorkerLog, T> work)
    {
        var console = AnsiConsole.Console;
        return console.Status().Spinner(Spinner.Known.Dots).Start("starting", ctx => work(new TerminalProgressLog(console, ctx)));
    }
}
