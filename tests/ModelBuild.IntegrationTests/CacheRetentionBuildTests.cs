namespace ModelBuild.IntegrationTests;

/// <summary>
/// A real <c>dotnet build</c> that compresses trims its caches of the entries not used for
/// <c>ModelBuildCacheRetentionDays</c> days (docs/msbuild.md "Retention"), and the property reaches the task.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class CacheRetentionBuildTests(PackageFixture package)
{
    [Fact]
    public void A_build_that_compresses_removes_entries_unused_past_the_retention_and_0_keeps_them()
    {
        using var project = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static);
        var cache = project.PathOf("obj/modelbuild/cache");
        string Stale(string folder, char c)
        {
            var entry = Path.Combine(folder, new string(c, 64));
            Directory.CreateDirectory(entry);
            File.WriteAllBytes(Path.Combine(entry, "model.onnx"), [1]);
            Directory.SetLastWriteTimeUtc(entry, DateTime.UtcNow.AddDays(-40));
            return entry;
        }
        var (staleResult, staleStage) = (Stale(cache, 'a'), Stale(Path.Combine(cache, "stages"), 'b'));

        var keepAll = project.Build("-p:ModelBuildCacheRetentionDays=0");
        Assert.True(keepAll.Succeeded, keepAll.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, keepAll.Output);
        Assert.True(Directory.Exists(staleResult) && Directory.Exists(staleStage), "ModelBuildCacheRetentionDays=0 removed an entry");

        // Back to a miss (the new entry and obj/'s copy gone), so the next build compresses again with the default 30 days.
        foreach (var entry in Directory.GetDirectories(cache).Where(d => d != staleResult && Path.GetFileName(d).Length == 64))
            Directory.Delete(entry, recursive: true);
        Directory.Delete(project.PathOf("obj/Debug/net10.0/modelbuild"), recursive: true);
        var trimmed = project.Build();
        Assert.True(trimmed.Succeeded, trimmed.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, trimmed.Output);
        Assert.False(Directory.Exists(staleResult), "an entry unused for 40 days was kept");
        Assert.False(Directory.Exists(staleStage), "a stage entry unused for 40 days was kept");
        Assert.Contains("removed 1 cache entry not used for 30 days", trimmed.Output);
        Assert.Single(Directory.GetDirectories(cache), d => Path.GetFileName(d).Length == 64);
        Assert.True(File.Exists(project.PathOf("bin/Debug/net10.0/models/wine.onnx")));
    }
}
