using System.Text.Json.Nodes;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.RemoteCache;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// Local caches lose the entries not used within the retention, once a day per folder; a hit counts as a use, and
/// nothing that is not an entry (staging folders, locks, other files) is touched.
/// </summary>
public class CacheRetentionTests
{
    private static readonly DateTime Now = new(2026, 12, 5, 12, 0, 0, DateTimeKind.Utc);

    private static string Key(char c) => new(c, 64);

    private static string Entry(string root, string name, DateTime lastUsed)
    {
        var entry = Path.Combine(root, name);
        Directory.CreateDirectory(entry);
        File.WriteAllBytes(Path.Combine(entry, "model.onnx"), [1, 2, 3]);
        Directory.SetLastWriteTimeUtc(entry, lastUsed);
        return entry;
    }

    [Fact]
    public void Entries_unused_past_the_retention_go_and_everything_else_stays()
    {
        var root = TestMaterials.TempDir();
        var old = Entry(root, Key('a'), Now.AddDays(-31));
        var recent = Entry(root, Key('b'), Now.AddDays(-29));
        var staging = Entry(root, Key('c') + ".host.123.abc.tmp", Now.AddDays(-90));
        var other = Entry(root, "notes", Now.AddDays(-90));
        var oldAnswer = Path.Combine(root, Key('d') + ".json");
        var recentAnswer = Path.Combine(root, Key('e') + ".json");
        var lockFile = Path.Combine(root, Key('a') + ".lock");
        foreach (var f in new[] { oldAnswer, recentAnswer, lockFile }) File.WriteAllText(f, "{}");
        File.SetLastWriteTimeUtc(oldAnswer, Now.AddDays(-40));
        File.SetLastWriteTimeUtc(recentAnswer, Now.AddDays(-1));
        File.SetLastWriteTimeUtc(lockFile, Now.AddDays(-90));

        Assert.Equal(2, CacheRetention.TrimIfDue(root, 30, answerFiles: true, utcNow: Now));

        Assert.False(Directory.Exists(old));
        Assert.False(File.Exists(oldAnswer));
        Assert.True(Directory.Exists(recent));
        Assert.True(File.Exists(recentAnswer));
        Assert.True(Directory.Exists(staging));
        Assert.True(Directory.Exists(other));
        Assert.True(File.Exists(lockFile));
        Assert.Empty(Directory.GetDirectories(root, "*.discarded.tmp"));
    }

    [Fact]
    public void A_folder_is_looked_through_at_most_once_a_day_and_zero_days_keeps_everything()
    {
        var root = TestMaterials.TempDir();
        Entry(root, Key('a'), Now.AddDays(-100));
        Assert.Null(CacheRetention.TrimIfDue(root, 0, utcNow: Now));
        Assert.Null(CacheRetention.TrimIfDue(root, -1, utcNow: Now));
        Assert.True(Directory.Exists(Path.Combine(root, Key('a'))));

        Assert.Equal(1, CacheRetention.TrimIfDue(root, 30, utcNow: Now));
        var later = Entry(root, Key('b'), Now.AddDays(-100));
        Assert.Null(CacheRetention.TrimIfDue(root, 30, utcNow: Now.AddHours(23)));
        Assert.True(Directory.Exists(later));
        Assert.Equal(1, CacheRetention.TrimIfDue(root, 30, utcNow: Now.AddHours(25)));
        Assert.False(Directory.Exists(later));
        Assert.Null(CacheRetention.TrimIfDue(Path.Combine(root, "missing"), 30, utcNow: Now));
    }

    [Fact]
    public void Answer_files_are_entries_only_where_asked_and_what_a_discard_left_is_swept()
    {
        var root = TestMaterials.TempDir();
        var answer = Path.Combine(root, Key('d') + ".json");
        File.WriteAllText(answer, "{}");
        File.SetLastWriteTimeUtc(answer, Now.AddDays(-40));
        var leftover = Entry(root, Key('e') + ".123.abc.discarded.tmp", Now);
        Assert.Equal(0, CacheRetention.TrimIfDue(root, 30, utcNow: Now));
        Assert.True(File.Exists(answer), "a .json file outside an answers folder was taken for an entry");
        Assert.False(Directory.Exists(leftover), "a discarded folder was left");
    }

    [Fact]
    public void A_retention_beyond_100_years_keeps_everything_and_a_marker_from_the_future_does_not_stop_trims()
    {
        var root = TestMaterials.TempDir();
        var old = Entry(root, Key('a'), Now.AddDays(-400));
        Assert.Null(CacheRetention.TrimIfDue(root, 999999, utcNow: Now));
        Assert.Null(CacheRetention.TrimIfDue(root, int.MaxValue, utcNow: Now));
        Assert.True(Directory.Exists(old));
        var longest = TestMaterials.TempDir();
        Entry(longest, Key('b'), Now.AddDays(-400));
        Assert.Equal(0, CacheRetention.TrimIfDue(longest, CacheRetention.MaxDays, utcNow: Now));

        var marker = Path.Combine(root, CacheRetention.MarkerFile);
        File.WriteAllBytes(marker, []);
        File.SetLastWriteTimeUtc(marker, Now.AddDays(3));
        Assert.Equal(1, CacheRetention.TrimIfDue(root, 365, utcNow: Now));
        Assert.False(Directory.Exists(old));
    }

    [Fact]
    public void The_file_a_hit_may_add_to_an_entry_is_not_part_of_its_manifest()
    {
        var entry = Entry(TestMaterials.TempDir(), Key('f'), Now);
        var touch = Path.Combine(entry, ".used.1.abc.tmp");
        File.WriteAllText(touch, "");
        Assert.True(CacheRetention.IsTouchFile(Path.GetFileName(touch)));
        var manifest = CacheManifest.ForDirectory("stage", Key('f'), entry);
        Assert.Equal(["model.onnx"], manifest.Files.Select(f => f.Name));
    }

    [Fact]
    public void A_stage_cache_hit_marks_its_entry_used()
    {
        var dir = TestMaterials.TempDir();
        var cache = new StageCache(Path.Combine(dir, "stages"));
        var model = Path.Combine(dir, "m.onnx");
        File.WriteAllBytes(model, [9, 8, 7]);
        var (hit, missed) = (Key('1'), Key('2'));
        cache.Store(hit, model, new JsonObject(), 1);
        cache.Store(missed, model, new JsonObject(), 1);
        var longAgo = DateTime.UtcNow.AddDays(-60);
        Directory.SetLastWriteTimeUtc(cache.EntryDirectory(hit), longAgo);
        Directory.SetLastWriteTimeUtc(cache.EntryDirectory(missed), longAgo);

        Assert.NotNull(cache.TryGet(hit, Path.Combine(dir, "back.onnx")));
        Assert.Equal(1, CacheRetention.TrimIfDue(cache.Directory, 30));

        Assert.True(Directory.Exists(cache.EntryDirectory(hit)));
        Assert.False(Directory.Exists(cache.EntryDirectory(missed)));
    }
}
