using System.Reflection;
using System.Text.Json;
using ModelBuild.Tasks.Cache;

namespace ModelBuild.Tasks.Worker;

/// <summary>
/// The versions that go into the cache key, read from what will actually run: ModelBuild's from this assembly (the
/// package version, plus the commit when built from git), ONNX Runtime's and TorchSharp's from the worker's
/// <c>modelbuild.deps.json</c>, which pins the exact package versions the worker resolves from the NuGet cache.
/// </summary>
internal static class ToolVersionsReader
{
    public static ToolVersions Read(string workerDepsFile)
    {
        var modelBuild = typeof(ToolVersionsReader).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(ToolVersionsReader).Assembly.GetName().Version?.ToString() ?? "unknown";
        string onnxRuntime = "none", torchSharp = "none";
        using var document = JsonDocument.Parse(File.ReadAllBytes(workerDepsFile));
        if (document.RootElement.TryGetProperty("libraries", out var libraries))
        {
            foreach (var library in libraries.EnumerateObject())
            {
                var slash = library.Name.IndexOf('/');
                if (slash < 0) continue;
                var id = library.Name[..slash];
                var version = library.Name[(slash + 1)..];
                if (id.Equals("Microsoft.ML.OnnxRuntime", StringComparison.OrdinalIgnoreCase)) onnxRuntime = version;
                else if (id.Equals("TorchSharp", StringComparison.OrdinalIgnoreCase)) torchSharp = version;
            }
        }
        return new ToolVersions(modelBuild, onnxRuntime, torchSharp);
    }
}
