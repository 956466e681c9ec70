using System.CommandLine;

namespace ModelBuild.Cli.Commands;

/// <summary>The list of subcommands; one line per command so that adding one touches one place.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return InspectCommand.Create();
        yield return CompressCommand.Create();
        yield return EvalCommand.Create();
        yield return BenchCommand.Create();
        yield return DoctorCommand.Create();
    }
}
