using System.IO.Compression;
using System.Text.Json;
using System.Xml.Linq;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace ModelBuild.IntegrationTests;

/// <summary>
/// The worker's assemblies in the packed package are ReadyToRun images that keep their IL (issue 16: a short worker
/// process JIT-compiles less), and the dependencies' copies are the very assemblies the NuGet cache holds, so the host
/// can take them app-local in its place.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class PackagedWorkerTests(PackageFixture package)
{
    [Theory]
    [InlineData("modelbuild.dll", null)]
    [InlineData("ModelBuild.Compression.dll", null)]
    [InlineData("ModelBuild.Onnx.dll", null)]
    [InlineData("TorchSharp.dll", "torchsharp")]
    [InlineData("Google.Protobuf.dll", "google.protobuf")]
    [InlineData("OnnxSharp.dll", "onnxsharp")]
    [InlineData("Microsoft.ML.OnnxRuntime.dll", "microsoft.ml.onnxruntime.managed")]
    [InlineData("System.CommandLine.dll", "system.commandline")]
    public void Worker_assembly_is_a_ReadyToRun_image_with_its_IL(string file, string? cachePackage)
    {
        using var nupkg = ZipFile.OpenRead(Path.Combine(package.Feed, $"ModelBuild.{package.Version}.nupkg"));
        var entry = nupkg.GetEntry("tools/worker/" + file);
        Assert.True(entry is not null, $"tools/worker/{file} is not in the package");
        var image = new MemoryStream();
        using (var stream = entry!.Open()) stream.CopyTo(image);
        image.Position = 0;
        using var pe = new PEReader(image);

        var cor = pe.PEHeaders.CorHeader;
        Assert.NotNull(cor);
        Assert.True(cor!.ManagedNativeHeaderDirectory.Size > 0, $"{file} has no ReadyToRun header: it was packed as IL only");
        var metadata = pe.GetMetadataReader();
        Assert.True(metadata.MethodDefinitions.Count > 0, $"{file} lost its IL metadata");

        if (cachePackage is null) return;
        // The host takes this copy instead of the NuGet cache's: it must be compiled from the very assembly the worker's
        // deps.json names (same package version, same module id), not from an older version left in the cache.
        var (package_, version, assetPath) = RuntimeAssets(nupkg).Where(a => Path.GetFileName(a.Path) == file).Distinct().Single();
        Assert.Equal(cachePackage, package_.ToLowerInvariant());
        var cached = Path.Combine(PackageFixture.GlobalPackagesFolder, cachePackage, version.ToLowerInvariant(), assetPath);
        using var cachedPe = new PEReader(File.OpenRead(cached));
        var cachedMetadata = cachedPe.GetMetadataReader();
        Assert.Equal(cachedMetadata.GetGuid(cachedMetadata.GetModuleDefinition().Mvid), metadata.GetGuid(metadata.GetModuleDefinition().Mvid));
    }

    [Fact]
    public void Every_package_assembly_the_worker_loads_ships_beside_it_or_comes_with_a_package_dependency()
    {
        // On a consumer's machine the NuGet cache holds only what restoring ModelBuild brings: its nuspec dependencies and
        // theirs. Any other package assembly in the worker's deps.json must be app-local in tools/worker, or the worker
        // fails to start there (this machine's cache, filled by restoring this repository, would hide it).
        using var nupkg = ZipFile.OpenRead(Path.Combine(package.Feed, $"ModelBuild.{package.Version}.nupkg"));
        var local = nupkg.Entries.Where(e => e.FullName.StartsWith("tools/worker/", StringComparison.Ordinal)).Select(e => e.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var assets = RuntimeAssets(nupkg);
        var versions = Libraries(nupkg);

        XDocument nuspec;
        using (var stream = nupkg.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open()) nuspec = XDocument.Load(stream);
        var brought = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var pending = new Queue<string>(Dependencies(nuspec));
        while (pending.TryDequeue(out var id))
        {
            if (!brought.Add(id) || !versions.TryGetValue(id, out var version)) continue;
            var cachedNuspec = Path.Combine(PackageFixture.GlobalPackagesFolder, id.ToLowerInvariant(), version.ToLowerInvariant(), id.ToLowerInvariant() + ".nuspec");
            if (File.Exists(cachedNuspec))
                foreach (var next in Dependencies(XDocument.Load(cachedNuspec))) pending.Enqueue(next);
        }
        var missing = assets.Where(a => !local.Contains(Path.GetFileName(a.Path)) && !brought.Contains(a.Package))
            .Select(a => $"{a.Package}/{a.Version}: {a.Path}").ToList();
        Assert.True(missing.Count == 0, "not in tools/worker and brought by no package dependency: " + string.Join(", ", missing));

        // Every group's dependencies (over-approximates what a restore brings, so this can only miss a gap, never invent one).
        static IEnumerable<string> Dependencies(XDocument spec) =>
            spec.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value);
    }

    /// <summary>Every package in the worker's deps.json (meta-packages such as TorchSharp-cpu too): id to version.</summary>
    static Dictionary<string, string> Libraries(ZipArchive nupkg) =>
        WorkerDeps(nupkg).GetProperty("libraries").EnumerateObject()
            .Where(l => l.Value.GetProperty("type").GetString() == "package")
            .Select(l => IdAndVersion(l.Name))
            .ToDictionary(p => p.Id, p => p.Version, StringComparer.OrdinalIgnoreCase);

    /// <summary>The managed assemblies of packages in the worker's deps.json: package id, version, path in the package.</summary>
    static List<(string Package, string Version, string Path)> RuntimeAssets(ZipArchive nupkg)
    {
        var deps = WorkerDeps(nupkg);
        var libraries = deps.GetProperty("libraries");
        var assets = new List<(string, string, string)>();
        foreach (var target in deps.GetProperty("targets").EnumerateObject())
            foreach (var library in target.Value.EnumerateObject())
            {
                if (libraries.GetProperty(library.Name).GetProperty("type").GetString() != "package" || !library.Value.TryGetProperty("runtime", out var runtime)) continue;
                var (id, version) = IdAndVersion(library.Name);
                foreach (var asset in runtime.EnumerateObject())
                    assets.Add((id, version, asset.Name));
            }
        return assets;
    }

    static JsonElement WorkerDeps(ZipArchive nupkg)
    {
        using var stream = nupkg.GetEntry("tools/worker/modelbuild.deps.json")!.Open();
        return JsonDocument.Parse(stream).RootElement;
    }

    /// <summary>A deps.json library name, "Id/Version".</summary>
    static (string Id, string Version) IdAndVersion(string library) =>
        (library[..library.IndexOf('/')], library[(library.IndexOf('/') + 1)..]);
}
