namespace ModelBuild.IntegrationTests;

/// <summary>
/// Issue 13: "a (local) cache entry whose bytes were altered on disk is detected (content hash) and rebuilt with a
/// warning, not served", through the entry's manifest, on real `dotnet build`s.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class LocalCacheIntegrityBuildTests(PackageFixture package)
{
    [Fact]
    public void An_entry_altered_on_disk_is_rebuilt_with_a_warning_not_served()
    {
        using var project = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static);
        var first = project.Build();
        Assert.True(first.Succeeded, first.ToString());
        var original = File.ReadAllBytes(project.PathOf("bin/Debug/net10.0/models/wine.onnx"));

        var entry = Assert.Single(Directory.GetDirectories(project.PathOf("obj/modelbuild/cache")), d => Path.GetFileName(d).Length == 64);
        Assert.True(File.Exists(Path.Combine(entry, "manifest.json")));
        var cached = Path.Combine(entry, "model.onnx");
        var bytes = File.ReadAllBytes(cached);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(cached, bytes);
        // Without obj/'s copy the task has to go to the cache for this key.
        File.Delete(project.PathOf("obj/Debug/net10.0/modelbuild/models/wine.onnx"));

        var second = project.Build();
        Assert.True(second.Succeeded, second.ToString());
        Assert.Matches(@"warning MB0627: .*was altered on disk \(model\.onnx does not match its SHA-256 in the manifest\); removed and rebuilt", second.Output);
        Assert.Contains(ThrowAwayProject.WorkerStarted, second.Output);
        var rebuilt = File.ReadAllBytes(project.PathOf("bin/Debug/net10.0/models/wine.onnx"));
        Assert.Equal(original, rebuilt);
        Assert.NotEqual(bytes, rebuilt);
    }
}
