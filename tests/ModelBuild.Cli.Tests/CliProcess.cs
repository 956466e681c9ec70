using System.Diagnostics;

namespace ModelBuild.Cli.Tests;

/// <summary>Runs the built <c>modelbuild</c> as a separate process, as the MSBuild task and users do.</summary>
internal static class CliProcess
{
    public static (int Exit, string Stdout, string Stderr) Run(params string[] args) => Run(null, args);

    public static (int Exit, string Stdout, string Stderr) Run(IDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "modelbuild.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        if (environment is not null) foreach (var (k, v) in environment) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, ModelBuild.TestSupport.ProducedCodes.Observe(stdout.Result)!, ModelBuild.TestSupport.ProducedCodes.Observe(stderr.Result)!);
    }
}

/// <summary>Repository and ../shared paths, found by walking up to ModelBuild.sln.</summary>
internal static class TestPaths
{
    public static readonly string RepoRoot = FindRoot();
    public static readonly string Shared = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
    public static string Wine(string file) => Path.Combine(Shared, "teachers", "wine-mlp", file);
    public static string Intent(string file) => Path.Combine(Shared, "teachers", "synthetic-intent-transformer", file);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("ModelBuild.sln not found above " + AppContext.BaseDirectory);
    }
}
