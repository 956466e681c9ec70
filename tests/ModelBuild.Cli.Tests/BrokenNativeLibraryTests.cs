namespace ModelBuild.Cli.Tests;

/// <summary>
/// <c>doctor</c> and <c>inspect</c> exist to diagnose a machine where the native libraries do not load, so they must work
/// there: the CLI runs from a copy of its folder (symbolic links) with one native library left out.
/// </summary>
public sealed class BrokenNativeLibraryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mb-broken-native-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// The CLI's folder mirrored with links, where the native files <paramref name="broken"/> picks are empty files (a
    /// missing file would be found in the NuGet cache instead; an empty one fails to load, as a damaged copy does).
    /// </summary>
    private string MirrorWithout(Func<string, bool> broken)
    {
        var source = AppContext.BaseDirectory;
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            var target = Path.Combine(_dir, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            var name = Path.GetFileName(file);
            if (broken(name)) File.WriteAllBytes(target, []);
            // The host resolves a linked app to its real folder: the app itself and its .json files are copied.
            else if (name.StartsWith("modelbuild.", StringComparison.Ordinal)) File.Copy(file, target);
            else File.CreateSymbolicLink(target, file);
        }
        return Path.Combine(_dir, "modelbuild.dll");
    }

    private static (int Exit, string Stdout, string Stderr) Run(string cli, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(cli);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, ModelBuild.TestSupport.ProducedCodes.Observe(stdout.Result)!, ModelBuild.TestSupport.ProducedCodes.Observe(stderr.Result)!);
    }

    [SkippableFact]
    public void Doctor_without_ONNX_Runtime_reports_MB0810_and_still_checks_TorchSharp()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the native file names are Linux's");
        var cli = MirrorWithout(name => name.StartsWith("libonnxruntime", StringComparison.Ordinal));
        var (exit, stdout, stderr) = Run(cli, "doctor");
        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("ONNX Runtime:  FAILED", stdout);
        Assert.Contains("error MB0810: ONNX Runtime's native library", stderr);
        Assert.Contains("ones(4).sum() = 4", stdout);
    }

    [SkippableFact]
    public void Doctor_without_LibTorchSharp_reports_MB0801_and_still_checks_ONNX_Runtime()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the native file names are Linux's");
        var cli = MirrorWithout(name => name == "libLibTorchSharp.so");
        var (exit, stdout, stderr) = Run(cli, "doctor");
        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Matches(@"ONNX Runtime:  \d+\.\d+", stdout);
        Assert.Contains("error MB0801", stderr);
    }

    [SkippableFact]
    public void Inspect_works_without_any_native_library()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the native file names are Linux's");
        var cli = MirrorWithout(name => name.EndsWith(".so", StringComparison.Ordinal) && (name.StartsWith("libonnxruntime", StringComparison.Ordinal) || name.Contains("torch", StringComparison.OrdinalIgnoreCase) || name == "libc10.so"));
        var (exit, stdout, stderr) = Run(cli, "inspect", TestPaths.Wine("teacher.onnx"));
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains("parameters:", stdout);
    }
}
