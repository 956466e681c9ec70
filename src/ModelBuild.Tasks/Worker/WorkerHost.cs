using ModelBuild.Tasks.Cache;

namespace ModelBuild.Tasks.Worker;

/// <summary>
/// How the task starts the worker, EF Core style: <c>dotnet exec</c> with the worker's deps.json and
/// runtimeconfig.json and the NuGet package folders to probe, MSBuild's own variables removed from its environment and
/// the remote cache's settings added. One log file per item, key and purpose.
/// </summary>
internal sealed class WorkerHost(string workerDirectory, string? dotnetHostPath, IEnumerable<string> probingPaths, string logDirectory, RemoteCacheConfiguration remote)
{
    public string FileName => string.IsNullOrWhiteSpace(dotnetHostPath) ? "dotnet" : dotnetHostPath!;

    /// <summary>A worker process running <c>modelbuild &lt;command&gt;</c>, logging to <paramref name="logFile"/>.</summary>
    public WorkerProcess Process(IEnumerable<string> command, string logFile, Action? started = null) => new()
    {
        FileName = FileName,
        Arguments = [.. HostArguments(), Path.Combine(workerDirectory, "modelbuild.dll"), .. command],
        LogFile = logFile,
        Environment = Environment(),
        Redact = remote.Redact,
        Started = started,
    };

    /// <summary>obj/modelbuild/logs/&lt;item&gt;.&lt;key prefix&gt;[.suffix].log</summary>
    public string LogFile(string name, string key, string suffix = "") =>
        Path.Combine(Path.GetFullPath(logDirectory), $"{SafeFileName(name)}.{Short(key)}{suffix}.log");

    /// <summary>The first 12 hex digits of a key, as messages and log names show it.</summary>
    public static string Short(string key) => key[..12];

    private List<string> HostArguments()
    {
        var arguments = new List<string>
        {
            "exec",
            "--depsfile", Path.Combine(workerDirectory, "modelbuild.deps.json"),
            "--runtimeconfig", Path.Combine(workerDirectory, "modelbuild.runtimeconfig.json"),
        };
        foreach (var probe in probingPaths.Where(p => !string.IsNullOrWhiteSpace(p)).Select(p => p.TrimEnd('/', '\\')).Distinct())
        {
            arguments.Add("--additionalprobingpath");
            arguments.Add(probe);
        }
        return arguments;
    }

    private Dictionary<string, string?> Environment()
    {
        // The worker is a plain .NET app: MSBuild's own variables must not leak into it.
        var environment = new Dictionary<string, string?> { ["MSBUILD_EXE_PATH"] = null, ["MSBuildExtensionsPath"] = null, ["MSBuildSDKsPath"] = null };
        remote.AddTo(environment);
        return environment;
    }

    private static string SafeFileName(string name) => string.Concat(name.Select(c => Path.GetInvalidFileNameChars().Contains(c) || c is '/' or '\\' ? '_' : c));
}
