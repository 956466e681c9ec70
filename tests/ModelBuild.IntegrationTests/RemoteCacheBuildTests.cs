using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Sas;

namespace ModelBuild.IntegrationTests;

/// <summary>
/// Issue 15 on real `dotnet build`s of the packed package against a real Azurite: machine A (ReadWrite) fills the
/// remote cache, machine B (another folder, another empty local cache, Read) takes the result without a worker; a
/// changed Quantize reuses the remote distilled and pruned stages; tampered, unsigned, unreachable, refused and
/// missing stores each cost one warning and a local build; two racing writers leave one whole entry.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class RemoteCacheBuildTests(PackageFixture package, AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string Prefix = "team";

    /// <summary>wine-mlp distilled into its 13-16-3 student (3 epochs: small on purpose), pruned, then quantized.</summary>
    private static string Item(string quantize) => $"""
        <CompressModel Include="teacher.onnx" OutputName="models/wine.onnx" Distill="true" Student="student_scratch.onnx" Reinitialize="true"
                       TrainingData="train_x.npy" TrainingLabels="train_y.npy" Epochs="3" Prune="0.25" Threads="1"
                       Quantize="{quantize}" Force="true" EvaluationData="test_x.npy" EvaluationLabels="test_y.npy" />
        """;

    private ThrowAwayProject Machine(string container, string mode, string quantize = "int8-dynamic", string? connectionString = null, string? location = null)
    {
        var project = new ThrowAwayProject(package, Item(quantize));
        foreach (var file in new[] { "student_scratch.onnx", "train_x.npy", "train_y.npy" })
        {
            File.Copy(Path.Combine(RepositoryPaths.WineTeacher, file), project.PathOf(file), overwrite: true);
            File.SetAttributes(project.PathOf(file), FileAttributes.Normal);
        }
        project.Environment["ModelBuildRemoteCache"] = location ?? $"azblob://{container}/{Prefix}";
        project.Environment["ModelBuildRemoteCacheConnectionString"] = connectionString ?? azurite.Server.ConnectionString;
        project.Environment["ModelBuildRemoteCacheMode"] = mode;
        project.Environment["ModelBuildRemoteCacheSigningKey"] = null;
        project.Environment["AZURE_STORAGE_CONNECTION_STRING"] = null;
        return project;
    }

    private static string Model(ThrowAwayProject project) => project.PathOf("bin/Debug/net10.0/models/wine.onnx");

    private static string[] Warnings(string output) =>
        output.Split('\n').Where(l => Regex.IsMatch(l, @"warning MB\d{4}")).Select(l => Regex.Match(l, @"warning (MB\d{4}).*?: (.*)").Value.Trim()).Distinct().ToArray();

    /// <summary>True when the build compressed: the task's "starting worker" line, or a worker log in obj/modelbuild/logs.</summary>
    private static bool WorkerRan(ThrowAwayProject project, DotnetCommand.Result build) =>
        build.Output.Contains(ThrowAwayProject.WorkerStarted)
        || Directory.Exists(project.PathOf("obj/modelbuild/logs")) && Directory.GetFiles(project.PathOf("obj/modelbuild/logs"), "*.log").Any(f => !f.EndsWith(".remote.log", StringComparison.Ordinal));

    /// <summary>Like Assert.Matches, with the whole build log in the failure message.</summary>
    private static void Has(string pattern, DotnetCommand.Result build) => Assert.True(Regex.IsMatch(build.Output, pattern), $"/{pattern}/ not in:\n{build}");

    private BlobContainerClient Container(string name) => new(azurite.Server.ConnectionString, name);

    [SkippableFact]
    public void Machine_B_takes_machine_A_s_result_without_a_worker_and_a_changed_Quantize_reuses_the_remote_stages()
    {
        using var a = Machine("machines", "ReadWrite");
        var built = a.Build();
        Assert.True(built.Succeeded, built.ToString());
        Assert.True(WorkerRan(a, built));
        Has(@"remote cache: result: uploaded \(key [0-9a-f]{12}\) 4 file\(s\), [\d,]+ B in [\d.]+ s", built);
        Has(@"remote cache: distill stage: uploaded", built);
        Has(@"remote cache: prune stage: uploaded", built);
        // The storage SDKs ship beside the worker: no assembly, analyzer or generator of theirs reaches the app.
        Assert.DoesNotContain("\"AWSSDK.Core/", File.ReadAllText(a.PathOf("obj/project.assets.json")));
        Assert.DoesNotContain("\"Azure.Storage.Blobs/", File.ReadAllText(a.PathOf("obj/project.assets.json")));

        using var b = Machine("machines", "Read");
        var hit = b.Build();
        Assert.True(hit.Succeeded, hit.ToString());
        Assert.False(WorkerRan(b, hit), hit.Output);
        Has(@"models/wine\.onnx: remote cache: result: remote hit \(key [0-9a-f]{12}\) downloaded [\d,]+ B in [\d.]+ s", hit);
        Assert.Equal(File.ReadAllBytes(Model(a)), File.ReadAllBytes(Model(b)));
        // The figure for the record (not asserted): the task's own time on a remote hit.
        Console.WriteLine(Regex.Match(hit.Output, @"ModelBuild: CompressModels took .*").Value);

        b.WriteProject(Item("int8-weights"));
        var requantized = b.Build();
        Assert.True(requantized.Succeeded, requantized.ToString());
        Has(Regex.Escape("models/wine.onnx: remote cache: result: remote miss"), requantized);
        Has(Regex.Escape(ThrowAwayProject.WorkerStarted), requantized);
        Has(@"remote cache: distill stage: remote hit", requantized);
        Has(@"remote cache: prune stage: remote hit", requantized);
        Assert.DoesNotContain("distill: starting", requantized.Output);
        Assert.DoesNotContain("prune: starting", requantized.Output);
        Has(Regex.Escape("models/wine.onnx: quantize: starting"), requantized);
        Assert.DoesNotContain("uploaded", requantized.Output); // Read mode writes nothing
    }

    [SkippableFact]
    public void A_tampered_remote_model_is_rejected_and_rebuilt_and_with_a_signing_key_an_unsigned_entry_is_ignored()
    {
        using var a = Machine("tamper", "ReadWrite");
        var built = a.Build();
        Assert.True(built.Succeeded, built.ToString());

        // One byte of the model blob changed in the store.
        var container = Container("tamper");
        var manifestBlob = container.GetBlobs(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{Prefix}/modelbuild-cache-v1/entries/" }).Single();
        var manifest = JsonNode.Parse(container.GetBlobClient(manifestBlob.Name).DownloadContent().Value.Content.ToString())!;
        var modelHash = manifest["files"]!.AsArray().Single(f => (string)f!["name"]! == "model.onnx")!["sha256"]!.GetValue<string>();
        var modelBlob = container.GetBlobClient($"{Prefix}/modelbuild-cache-v1/blobs/{modelHash}");
        var bytes = modelBlob.DownloadContent().Value.Content.ToArray();
        bytes[bytes.Length / 2] ^= 0x01;
        modelBlob.Upload(new BinaryData(bytes), overwrite: true);

        using var b = Machine("tamper", "Read");
        var rebuilt = b.Build();
        Assert.True(rebuilt.Succeeded, rebuilt.ToString());
        Assert.Contains(Warnings(rebuilt.Output), w => w.StartsWith("warning MB0625", StringComparison.Ordinal) && w.Contains("model.onnx does not match its SHA-256"));
        Assert.True(WorkerRan(b, rebuilt));
        Assert.Equal(File.ReadAllBytes(Model(a)), File.ReadAllBytes(Model(b)));
        Assert.NotEqual(bytes, File.ReadAllBytes(Model(b)));

        // The same (unsigned) entries, read by a machine that trusts only signed ones.
        using var c = Machine("tamper", "Read");
        c.Environment["ModelBuildRemoteCacheSigningKey"] = "trusted-ci-key-0123456789";
        var untrusted = c.Build();
        Assert.True(untrusted.Succeeded, untrusted.ToString());
        Assert.Contains(Warnings(untrusted.Output), w => w.StartsWith("warning MB0626", StringComparison.Ordinal) && w.Contains("unsigned"));
        Assert.True(WorkerRan(c, untrusted));
        Assert.DoesNotContain("remote hit", untrusted.Output);
    }

    [SkippableFact]
    public void Signed_entries_are_used_by_a_reader_with_the_same_key_and_a_SAS_never_reaches_the_log()
    {
        var container = Container("signed");
        container.CreateIfNotExists();
        var sas = container.GenerateSasUri(BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(2));
        var signature = System.Web.HttpUtility.ParseQueryString(sas.Query)["sig"]!;
        var location = $"{azurite.Server.BlobEndpoint}/signed/{Prefix}{sas.Query}";

        using var a = Machine("signed", "ReadWrite", location: location);
        a.Environment["ModelBuildRemoteCacheConnectionString"] = null;
        a.Environment["ModelBuildRemoteCacheSigningKey"] = "trusted-ci-key-0123456789";
        var built = a.Build("-v:detailed");
        Assert.True(built.Succeeded, built.ToString());
        Has(Regex.Escape("result: uploaded"), built);

        using var b = Machine("signed", "Read", location: location);
        b.Environment["ModelBuildRemoteCacheConnectionString"] = null;
        b.Environment["ModelBuildRemoteCacheSigningKey"] = "trusted-ci-key-0123456789";
        var hit = b.Build("-v:detailed");
        Assert.True(hit.Succeeded, hit.ToString());
        Has(Regex.Escape("remote hit"), hit);
        Assert.False(WorkerRan(b, hit));

        foreach (var (project, build) in new[] { (a, built), (b, hit) })
        {
            Assert.DoesNotContain(signature, build.Output);
            Assert.DoesNotContain(Uri.EscapeDataString(signature), build.Output);
            Assert.DoesNotContain("trusted-ci-key-0123456789", build.Output);
            // Nor in any file the build wrote (logs, reports, cache entries, stamps).
            foreach (var file in Directory.GetFiles(project.PathOf("obj"), "*", SearchOption.AllDirectories).Concat(Directory.GetFiles(project.PathOf("bin"), "*", SearchOption.AllDirectories)))
            {
                var text = File.ReadAllText(file);
                Assert.False(text.Contains(signature, StringComparison.Ordinal) || text.Contains(Uri.EscapeDataString(signature), StringComparison.Ordinal), file);
            }
        }
        // Nor in the store.
        foreach (var blob in container.GetBlobs())
            Assert.DoesNotContain(signature, container.GetBlobClient(blob.Name).DownloadContent().Value.Content.ToString());
    }

    [SkippableFact]
    public void Wrong_credentials_and_a_missing_container_each_cost_one_warning_and_the_build_goes_on()
    {
        // A wrong account key: every request is refused (403).
        using var refused = Machine("refused", "ReadWrite", connectionString: azurite.Server.ConnectionStringWithKey(Convert.ToBase64String(new byte[64])));
        refused.WriteProject(ThrowAwayProject.WineInt8Static);
        var build = refused.Build();
        Assert.True(build.Succeeded, build.ToString());
        Assert.Equal("MB0622", Assert.Single(Warnings(build.Output), w => w.StartsWith("warning MB06", StringComparison.Ordinal))[8..14]);
        Assert.True(File.Exists(Model(refused)));

        // A SAS for a container that does not exist (the https form never creates one).
        var account = new BlobServiceClient(azurite.Server.ConnectionString);
        var sas = account.GenerateAccountSasUri(AccountSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1), AccountSasResourceTypes.All);
        using var missing = Machine("unused", "ReadWrite", location: $"{azurite.Server.BlobEndpoint}/no-such-container{sas.Query}");
        missing.WriteProject(ThrowAwayProject.WineInt8Static);
        build = missing.Build();
        Assert.True(build.Succeeded, build.ToString());
        Assert.Equal("MB0623", Assert.Single(Warnings(build.Output), w => w.StartsWith("warning MB06", StringComparison.Ordinal))[8..14]);
        Assert.True(File.Exists(Model(missing)));
    }

    [SkippableFact]
    public void The_store_killed_mid_build_costs_one_warning_and_the_build_succeeds_locally()
    {
        using var own = AzuriteServer.Start();
        using var project = Machine("killed", "ReadWrite", connectionString: own.ConnectionString);
        var running = project.StartBuild();
        Assert.True(running.WaitForOutput(ThrowAwayProject.WorkerStarted, TimeSpan.FromMinutes(5)), running.OutputSoFar);
        own.Kill();
        var build = running.Wait(TimeSpan.FromMinutes(10));
        Assert.True(build.Succeeded, build.ToString());
        Has(Regex.Escape("remote miss"), build); // the lookup reached the store before it went away
        Assert.Equal("MB0621", Assert.Single(Warnings(build.Output), w => w.StartsWith("warning MB06", StringComparison.Ordinal))[8..14]);
        Assert.True(File.Exists(Model(project)));
    }

    [SkippableFact]
    public void Two_builds_racing_on_one_key_both_succeed_and_leave_one_whole_entry()
    {
        using var first = Machine("race", "ReadWrite");
        using var second = Machine("race", "ReadWrite");
        first.WriteProject(ThrowAwayProject.WineInt8Static);
        second.WriteProject(ThrowAwayProject.WineInt8Static);
        var runs = new[] { first.StartBuild(), second.StartBuild() };
        var results = runs.Select(r => r.Wait(TimeSpan.FromMinutes(10))).ToList();
        Assert.All(results, r => Assert.True(r.Succeeded, r.ToString()));
        var outputs = string.Join("\n", results.Select(r => r.Output));
        Assert.Single(Regex.Matches(outputs, @"remote cache: result: uploaded"));
        Assert.Single(Regex.Matches(outputs, @"remote cache: result: (another build uploaded key [0-9a-f]{12} first|already in the remote cache|remote hit)"));

        // One manifest, and every blob it names is there with its hash: no partial entry.
        var container = Container("race");
        var manifests = container.GetBlobs(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{Prefix}/modelbuild-cache-v1/entries/" }).ToList();
        var manifest = JsonNode.Parse(container.GetBlobClient(Assert.Single(manifests).Name).DownloadContent().Value.Content.ToString())!;
        foreach (var file in manifest["files"]!.AsArray())
        {
            var content = container.GetBlobClient($"{Prefix}/modelbuild-cache-v1/blobs/{file!["sha256"]}").DownloadContent().Value.Content.ToArray();
            Assert.Equal(file["sha256"]!.GetValue<string>(), Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(content)).ToLowerInvariant());
        }
    }
}
