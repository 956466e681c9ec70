using ModelBuild.Compression.RemoteCache;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// <c>modelbuild cache list|verify|prune</c> on a local cache folder laid out as the build task lays it out
/// (<c>&lt;key&gt;/</c> with a manifest, <c>stages/&lt;key&gt;/</c>). The remote side runs against Azurite in
/// ModelBuild.IntegrationTests (RemoteCacheBuildTests).
/// </summary>
public sealed class CacheCommandTests : IDisposable
{
    private readonly string cache = Directory.CreateTempSubdirectory("mb-cache-cli-").FullName;
    private readonly string entryKey = new('a', 64);
    private readonly string stageKey = new('b', 64);

    public CacheCommandTests()
    {
        var entry = Directory.CreateDirectory(Path.Combine(cache, entryKey)).FullName;
        File.WriteAllBytes(Path.Combine(entry, "model.onnx"), new byte[300]);
        File.WriteAllText(Path.Combine(entry, "report.json"), "{}");
        File.WriteAllText(Path.Combine(entry, CacheManifest.FileName), CacheManifest.ForDirectory("entry", entryKey, entry).ToJson());
        var stage = Directory.CreateDirectory(Path.Combine(cache, "stages", stageKey)).FullName;
        File.WriteAllBytes(Path.Combine(stage, "model.onnx"), new byte[100]);
        File.WriteAllText(Path.Combine(stage, "stage.json"), "{}");
        Directory.CreateDirectory(Path.Combine(cache, $"{entryKey}.123.abc.tmp")); // a staging folder is not an entry
    }

    public void Dispose() => Directory.Delete(cache, recursive: true);

    [Fact]
    public void List_shows_result_and_stage_entries_but_not_staging_folders()
    {
        var (exit, stdout, _) = CliProcess.Run("cache", "list", "--local", cache);
        Assert.Equal(0, exit);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Matches($@"^local\s+entry\s+{entryKey}\s+\d+ B", lines[0]);
        Assert.Matches($@"^local\s+stage\s+{stageKey}\s+102 B", lines[1]);
    }

    [Fact]
    public void Verify_passes_an_intact_folder_and_fails_on_one_altered_byte()
    {
        var (exit, stdout, _) = CliProcess.Run("cache", "verify", "--local", cache);
        Assert.Equal(0, exit);
        Assert.Contains("2 entries verified, 0 damaged", stdout);

        var model = Path.Combine(cache, entryKey, "model.onnx");
        var bytes = File.ReadAllBytes(model);
        bytes[7] = 1;
        File.WriteAllBytes(model, bytes);
        (exit, stdout, _) = CliProcess.Run("cache", "verify", "--local", cache);
        Assert.Equal(1, exit);
        Assert.Contains($"local  entry {entryKey}  DAMAGED: model.onnx does not match its SHA-256 in the manifest", stdout);
    }

    [Fact]
    public void Prune_removes_only_entries_older_than_the_age()
    {
        Directory.SetLastWriteTimeUtc(Path.Combine(cache, "stages", stageKey), DateTime.UtcNow.AddDays(-40));
        var (exit, stdout, _) = CliProcess.Run("cache", "prune", "--older-than", "30d", "--local", cache);
        Assert.Equal(0, exit);
        Assert.Contains("local: removed 1 entry older than 30d", stdout);
        Assert.False(Directory.Exists(Path.Combine(cache, "stages", stageKey)));
        Assert.True(Directory.Exists(Path.Combine(cache, entryKey)));
    }

    [Fact]
    public void A_bad_age_is_MB0631_and_no_cache_at_all_is_MB0620()
    {
        var (exit, stdout, _) = CliProcess.Run("cache", "prune", "--older-than", "soon", "--local", cache);
        Assert.Equal(2, exit);
        Assert.Contains("MB0631", stdout);
        (exit, stdout, _) = CliProcess.Run("cache", "prune", "--older-than", "99999999d", "--local", cache);
        Assert.Equal(2, exit);
        Assert.Contains("MB0631", stdout);
        Assert.Contains("more than 100 years", stdout);
        (exit, stdout, _) = CliProcess.Run(new Dictionary<string, string> { ["ModelBuildRemoteCache"] = "" }, "cache", "list");
        Assert.Equal(2, exit);
        Assert.Contains("MB0620", stdout);
    }
}
