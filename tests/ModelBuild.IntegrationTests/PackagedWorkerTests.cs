using System.IO.Compression;
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
        // The host takes this copy instead of the NuGet cache's: it must be the same assembly, name and version.
        var packed = metadata.GetAssemblyDefinition();
        var cached = Directory.EnumerateFiles(Path.Combine(PackageFixture.GlobalPackagesFolder, cachePackage), file, SearchOption.AllDirectories)
            .Where(f => f.Contains($"{Path.DirectorySeparatorChar}lib{Path.DirectorySeparatorChar}"))
            .Select(f => System.Reflection.AssemblyName.GetAssemblyName(f))
            .ToList();
        Assert.Contains(cached, name => name.Name == metadata.GetString(packed.Name) && name.Version == packed.Version);
    }
}
