using System.CommandLine;
using System.Runtime.InteropServices;
using ModelBuild.Compression.Native;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// <c>modelbuild doctor</c>: checks that this machine can run every stage (ONNX Runtime for evaluation and
/// quantization, TorchSharp/libtorch for distillation and pruning recovery) and says where the native libraries came from.
/// </summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "Check that ONNX Runtime and TorchSharp load on this machine.\n\nExamples:\n  modelbuild doctor");
        command.SetAction(_ => Run(Console.Out, Console.Error));
        return command;
    }

    internal static int Run(TextWriter output, TextWriter error)
    {
        output.WriteLine($".NET:          {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})");
        output.WriteLine($"OS:            {RuntimeInformation.OSDescription}");
        output.WriteLine($"Cores:         {Environment.ProcessorCount}");
        try
        {
            using var options = new Microsoft.ML.OnnxRuntime.SessionOptions();
            output.WriteLine($"ONNX Runtime:  {Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetVersionString()}");
            LibTorchLoader.EnsureLoaded();
            output.WriteLine($"TorchSharp:    {typeof(TorchSharp.torch).Assembly.GetName().Version} (libtorch {TorchSharp.torch.__version__})");
            output.WriteLine($"LibTorchSharp: {(LibTorchLoader.LoadedFrom == "original" ? "loaded as shipped" : "patched copy " + LibTorchLoader.LoadedFrom)}");
            using var check = TorchSharp.torch.ones(4).sum();
            output.WriteLine($"Tensor check:  ones(4).sum() = {check.item<float>()}");
            return 0;
        }
        catch (ModelBuildException e)
        {
            error.WriteLine(e.ToString());
            return e.ExitCode;
        }
    }
}
