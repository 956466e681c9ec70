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
        // Each native library is checked on its own, so a machine where one fails to load still learns about the other:
        // diagnosing exactly that is what this command is for.
        var failures = new List<ModelBuildException>();
        try
        {
            using var options = new Microsoft.ML.OnnxRuntime.SessionOptions();
            output.WriteLine($"ONNX Runtime:  {Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetVersionString()}");
        }
        catch (Exception e) when (IsNativeLoadFailure(e))
        {
            output.WriteLine("ONNX Runtime:  FAILED to load");
            failures.Add(new ModelBuildException(OnnxRuntimeLoadFailed,
                $"ONNX Runtime's native library (libonnxruntime) could not be loaded: {Innermost(e).Message.Split('\n')[0].Trim()}",
                "Restore again (dotnet restore) so that Microsoft.ML.OnnxRuntime's runtimes/<rid>/native folder is complete, and check that the system's C/C++ runtime is the one ONNX Runtime 1.32 needs.",
                "libonnxruntime.so", e));
        }
        try
        {
            LibTorchLoader.EnsureLoaded();
            output.WriteLine($"TorchSharp:    {typeof(TorchSharp.torch).Assembly.GetName().Version} (libtorch {TorchSharp.torch.__version__})");
            output.WriteLine($"LibTorchSharp: {(LibTorchLoader.LoadedFrom == "original" ? "loaded as shipped" : "patched copy " + LibTorchLoader.LoadedFrom)}");
            output.WriteLine($"oneDNN:        {(LibTorchLoader.OneDnnEnabled ? "on" : "off (libtorch's own convolutions; MODELBUILD_TORCH_ONEDNN=1 turns it on)")}");
            using var check = TorchSharp.torch.ones(4).sum();
            output.WriteLine($"Tensor check:  ones(4).sum() = {check.item<float>()}");
        }
        catch (ModelBuildException e)
        {
            output.WriteLine("TorchSharp:    FAILED to load");
            failures.Add(e);
        }
        catch (Exception e) when (IsNativeLoadFailure(e))
        {
            output.WriteLine("TorchSharp:    FAILED to load");
            failures.Add(new ModelBuildException("MB0801", $"TorchSharp's native libraries could not be loaded: {Innermost(e).Message.Split('\n')[0].Trim()}",
                "Restore the solution (dotnet restore) so that TorchSharp-cpu 0.107.0 and libtorch-cpu-linux-x64 2.10.0 are in the NuGet packages folder.", "libLibTorchSharp.so", e));
        }
        foreach (var failure in failures) error.WriteLine(failure.ToString());
        return failures.Count == 0 ? 0 : failures[0].ExitCode;
    }

    /// <summary>ONNX Runtime's native library could not be loaded (see docs/diagnostics.md).</summary>
    public const string OnnxRuntimeLoadFailed = "MB0810";

    /// <summary>What .NET throws when a native library is missing, of the wrong architecture or lacks a symbol.</summary>
    internal static bool IsNativeLoadFailure(Exception e) =>
        Innermost(e) is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or NotSupportedException
        || e is TypeInitializationException;

    private static Exception Innermost(Exception e)
    {
        while (e is TypeInitializationException { InnerException: { } inner }) e = inner;
        return e;
    }
}
