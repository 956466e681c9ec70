using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ModelBuild.IntegrationTests;

/// <summary>
/// <c>modelbuild cache list|verify|prune --remote-cache</c>, run from the packed package's worker (as a user runs the
/// tool) against the entries a real build uploaded to Azurite.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class RemoteCacheHousekeepingTests(PackageFixture package, AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private DotnetCommand.Result Cli(params string[] arguments)
    {
        var worker = Path.Combine(PackageFixture.GlobalPackagesFolder, "modelbuild", package.Version.ToLowerInvariant(), "tools", "worker");
        var environment = new Dictionary<string, string?>
        {
            ["ModelBuildRemoteCache"] = "azblob://house/team",
            ["ModelBuildRemoteCacheConnectionString"] = azurite.Server.ConnectionString,
            ["ModelBuildRemoteCacheSigningKey"] = null,
        };
        return DotnetCommand.Start(RepositoryPaths.Root, environment,
            ["exec", "--depsfile", Path.Combine(worker, "modelbuild.deps.json"), "--runtimeconfig", Path.Combine(worker, "modelbuild.runtimeconfig.json"),
             "--additionalprobingpath", PackageFixture.GlobalPackagesFolder, Path.Combine(worker, "modelbuild.dll"), "cache", .. arguments]).Wait();
    }

    [SkippableFact]
    public void List_verify_and_prune_work_on_what_a_build_uploaded()
    {
        using var project = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static);
        project.Environment["ModelBuildRemoteCache"] = "azblob://house/team";
        project.Environment["ModelBuildRemoteCacheConnectionString"] = azurite.Server.ConnectionString;
        project.Environment["ModelBuildRemoteCacheMode"] = "ReadWrite";
        var build = project.Build();
        Assert.True(build.Succeeded, build.ToString());

        var list = Cli("list");
        Assert.True(list.Succeeded, list.ToString());
        Assert.Matches(@"remote\s+entry\s+[0-9a-f]{64}\s+[\d,]+ B", list.Output);
        Assert.Matches(@"remote\s+stage\s+[0-9a-f]{64}", list.Output);

        var verify = Cli("verify");
        Assert.True(verify.Succeeded, verify.ToString());
        Assert.Contains("0 damaged", verify.Output);

        // One byte of the result's model changed in the store: verify names the entry and exits 1.
        var container = new BlobContainerClient(azurite.Server.ConnectionString, "house");
        var manifest = JsonNode.Parse(container.GetBlobClient(container.GetBlobs(new GetBlobsOptions { Prefix = "team/modelbuild-cache-v1/entries/" }).Single().Name).DownloadContent().Value.Content.ToString())!;
        var model = container.GetBlobClient("team/modelbuild-cache-v1/blobs/" + manifest["files"]!.AsArray().Single(f => (string)f!["name"]! == "model.onnx")!["sha256"]);
        var bytes = model.DownloadContent().Value.Content.ToArray();
        bytes[^1] ^= 1;
        model.Upload(new BinaryData(bytes), overwrite: true);
        verify = Cli("verify");
        Assert.Equal(1, verify.ExitCode);
        Assert.Matches(@"remote entry [0-9a-f]{64}  DAMAGED: model\.onnx does not match its SHA-256", verify.Output);

        var prune = Cli("prune", "--older-than", "0m");
        Assert.True(prune.Succeeded, prune.ToString());
        Assert.Matches(@"remote: removed [2-9] entries and [1-9]\d* unreferenced blob\(s\)", prune.Output);
        Assert.Empty(container.GetBlobs(new GetBlobsOptions { Prefix = "team/" }));
    }
}
