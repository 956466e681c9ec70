using Microsoft.Build.Utilities;

namespace ModelBuild.Tasks.Tests;

/// <summary>
/// A throw-away project folder plus a stand-in for <c>dotnet</c>: a bash script that accepts the task's
/// <c>exec ... modelbuild.dll compress --recipe R --report P</c> command line and behaves as the test says (write a
/// result, crash, fail the gate, hang). It exercises the task's process handling, cache and diagnostics mapping; the
/// real worker is exercised by ModelBuild.IntegrationTests.
/// </summary>
internal sealed class FakeWorkerProject : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("mb-task-").FullName;
    public string Project => Path.Combine(Root, "project");
    public string Counter => Path.Combine(Root, "worker-runs.txt");
    public string PidFile => Path.Combine(Root, "worker.pid");
    public string WorkerDirectory => Path.Combine(Root, "worker");
    public string LocalCache => Path.Combine(Project, "obj", "modelbuild", "cache");
    public string Output => Path.Combine(Project, "obj", "modelbuild-out", "wine.onnx");

    public const string GoodReport = """{"teacher":{"bytes":281255,"accuracy":98.15,"latencyMicroseconds":6.2},"result":{"bytes":74112,"accuracy":98.15,"latencyMicroseconds":5.1,"agreement":100},"summary":"281,255 B -> 74,112 B (3.80x smaller), latency 6.2 us -> 5.1 us, accuracy 98.15% -> 98.15%, agreement 100.00%"}""";

    public FakeWorkerProject()
    {
        Directory.CreateDirectory(Project);
        Directory.CreateDirectory(WorkerDirectory);
        File.WriteAllBytes(Path.Combine(Project, "teacher.onnx"), [1, 2, 3, 4]);
        File.WriteAllBytes(Path.Combine(Project, "calib.npy"), [5, 6, 7]);
        File.WriteAllText(Path.Combine(WorkerDirectory, "modelbuild.deps.json"),
            """{ "libraries": { "Microsoft.ML.OnnxRuntime/1.31.1": {}, "TorchSharp/0.107.0": {}, "ModelBuild.Onnx/1.0.0": {} } }""");
    }

    /// <summary>Writes the stand-in whose behaviour after parsing its arguments is <paramref name="body"/> (bash).</summary>
    public string Worker(string body, string name = "dotnet")
    {
        var path = Path.Combine(Root, name);
        File.WriteAllText(path, $$"""
            #!/bin/bash
            while [ $# -gt 0 ]; do case "$1" in --recipe) recipe="$2"; shift;; --report) report="$2"; shift;; esac; shift; done
            out=$(sed -n 's/.*"output": "\(.*\)",\{0,1\}$/\1/p' "$recipe")
            teacher=$(sed -n 's/.*"teacher": "\(.*\)",\{0,1\}$/\1/p' "$recipe")
            echo run >> '{{Counter}}'
            {{body}}
            """.Replace("\r\n", "\n"));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    public static string Succeeds =>
        $"""
        echo "##modelbuild[progress] quantize: calibrating 3/8 tensors"
        echo "##modelbuild[stage] quantize 0.12s"
        echo "##modelbuild[warning MB0203] one layer kept in float | nothing to do"
        cp "$teacher" "$out"
        echo '{GoodReport}' > "$report"
        exit 0
        """;

    public int WorkerRuns => File.Exists(Counter) ? File.ReadAllLines(Counter).Length : 0;

    public TaskItem Item(string outputName = "wine.onnx")
    {
        var item = new TaskItem("teacher.onnx");
        var obj = Path.Combine(Project, "obj", "modelbuild-out");
        item.SetMetadata("Quantize", "int8-static");
        item.SetMetadata("CalibrationData", "calib.npy");
        item.SetMetadata("TargetPath", outputName);
        item.SetMetadata("IntermediatePath", Path.Combine(obj, outputName));
        item.SetMetadata("StampFile", Path.Combine(obj, outputName + ".stamp"));
        item.SetMetadata("InputsFile", Path.Combine(obj, outputName + ".inputs"));
        item.SetMetadata("ReportFile", Path.Combine(obj, outputName + ".report.json"));
        return item;
    }

    public CompressModels Task(RecordingBuildEngine engine, string worker, string? sharedCache = null, params TaskItem[] items) => new()
    {
        BuildEngine = engine,
        Models = items.Length == 0 ? [Item()] : items,
        ProjectDirectory = Project,
        LocalCacheDirectory = LocalCache,
        SharedCacheDirectory = sharedCache,
        LogDirectory = Path.Combine(Project, "obj", "modelbuild", "logs"),
        WorkerDirectory = WorkerDirectory,
        DotnetHostPath = worker,
        ProbingPaths = ["/nuget/packages/"],
    };

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
