using System.CommandLine;

namespace ModelBuild.Cli.Commands;

/// <summary>The list of subcommands; one line per command so that adding one touches one place.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return DoctorCommand.Create();
        yield return InspectCommand.Create();
    }
}
