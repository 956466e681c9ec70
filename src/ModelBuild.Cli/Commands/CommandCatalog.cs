using System.CommandLine;

namespace ModelBuild.Cli.Commands;

/// <summary>The list of subcommands; one line per command so that adding one touches one place.</summary>
internal static class CommandCatalog
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("""
            modelbuild: compress ONNX models (distillation, pruning, quantization), evaluate and time them.

            Examples:
              modelbuild compress teacher.onnx -o model.onnx --quantize auto --calibration-data calib_x.npy --eval-data test_x.npy --eval-labels test_y.npy --report report.json
              modelbuild inspect model.onnx --json
              modelbuild eval model.onnx --data test_x.npy --labels test_y.npy --reference teacher.onnx
              modelbuild bench model.onnx --baseline teacher.onnx
              modelbuild doctor
            """);
        foreach (var command in All()) root.Subcommands.Add(command);
        return root;
    }

    public static IEnumerable<Command> All()
    {
        yield return DoctorCommand.Create();
        yield return InspectCommand.Create();
        yield return CompressCommand.Create();
        yield return EvalCommand.Create();
        yield return BenchCommand.Create();
        yield return CacheCommand.Create();
    }
}
