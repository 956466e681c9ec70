using System.Security.Cryptography;
using System.Text;

namespace ModelBuild.IntegrationTests;

/// <summary>
/// Packs the ModelBuild package once per test run into a private feed. The version is 0.1.0-it.&lt;hash of every
/// packed input&gt;: the global NuGet cache keeps whatever it once extracted under an id/version, so a fixed version
/// would let a stale package from an earlier run (or a colleague's branch) be tested instead of this source. The
/// package's folder in the global cache is removed at the end. Everything else (TorchSharp, ONNX Runtime...) is
/// taken from the global cache as usual, so nothing big is downloaded.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    public string Version { get; }
    public string Feed { get; }

    public PackageFixture()
    {
        Version = "0.1.0-it." + HashOfPackedInputs()[..12];
        Feed = Path.Combine(Path.GetTempPath(), "modelbuild-it-feed-" + Version);
        if (!File.Exists(Path.Combine(Feed, $"ModelBuild.{Version}.nupkg")))
        {
            RemoveFromGlobalCache();
            var pack = DotnetCommand.Run(RepositoryPaths.Root, "pack", "src/ModelBuild.Tasks", "-c", "Release", "-o", Feed, $"-p:Version={Version}", "-nologo");
            if (!pack.Succeeded) throw new InvalidOperationException("dotnet pack failed: " + pack);
        }
    }

    /// <summary>A nuget.config for a throw-away project: this run's feed first, then nuget.org for anything not cached.</summary>
    public string NuGetConfig => $"""
        <?xml version="1.0" encoding="utf-8"?>
        <configuration>
          <packageSources>
            <clear />
            <add key="modelbuild-under-test" value="{Feed}" />
            <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
          </packageSources>
        </configuration>
        """;

    public static string GlobalPackagesFolder =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private void RemoveFromGlobalCache()
    {
        var extracted = Path.Combine(GlobalPackagesFolder, "modelbuild", Version.ToLowerInvariant());
        if (Directory.Exists(extracted)) Directory.Delete(extracted, recursive: true);
    }

    private static string HashOfPackedInputs()
    {
        var root = RepositoryPaths.Root;
        var files = new[] { "src/ModelBuild.Tasks", "src/ModelBuild.Cli", "src/ModelBuild.Compression", "src/ModelBuild.Onnx", "build" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(root, d), "*", SearchOption.AllDirectories))
            .Concat(new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", "global.json" }.Select(f => Path.Combine(root, f)))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(file + "\n"));
            sha.AppendData(File.ReadAllBytes(Path.Combine(root, file)));
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    public void Dispose()
    {
        RemoveFromGlobalCache();
        if (Directory.Exists(Feed)) Directory.Delete(Feed, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class PackageCollection : ICollectionFixture<PackageFixture>
{
    public const string Name = "ModelBuild package";
}
