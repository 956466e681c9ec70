using System.Text.Json;
using System.Text.Json.Nodes;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pipeline;

/// <summary>
/// Each stage's output by key (<see cref="Contract.ContentKey.OfStage"/>), so that changing only a later stage's settings
/// (say <c>Quantize</c>) re-runs only that stage. An entry is a folder
/// <c>&lt;key&gt;/</c> with <c>model.onnx</c> and <c>stage.json</c>, written under a temporary name and renamed into
/// place, so an entry that exists is complete. Concurrent writers of one key both produce a valid entry; the first
/// rename wins. A hit marks the entry used (<see cref="CacheRetention"/>); the folder's owner trims it.
/// </summary>
public sealed class StageCache(string directory)
{
    private const string ModelFile = "model.onnx";
    private const string StageFile = "stage.json";

    public string Directory { get; } = Path.GetFullPath(directory);

    /// <summary>The folder of the entry <paramref name="key"/> (complete when it exists).</summary>
    public string EntryDirectory(string key) => Path.Combine(Directory, key);

    /// <summary>The cached output for <paramref name="key"/>, copied to <paramref name="modelPath"/>; null on a miss.</summary>
    public CachedStage? TryGet(string key, string modelPath)
    {
        var entry = Path.Combine(Directory, key);
        var model = Path.Combine(entry, ModelFile);
        var stage = Path.Combine(entry, StageFile);
        if (!File.Exists(model) || !File.Exists(stage)) return null;
        CacheRetention.MarkUsed(entry); // before reading: another build's trim reads the time first
        try
        {
            var json = JsonNode.Parse(File.ReadAllText(stage))!.AsObject();
            File.Copy(model, modelPath, overwrite: true);
            return new CachedStage(json["details"] as JsonObject is { } d ? (JsonObject)d.DeepClone() : null, json["seconds"]?.GetValue<double>() ?? 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or InvalidOperationException)
        {
            return null; // an unreadable entry is a miss; the stage runs and rewrites it
        }
    }

    /// <summary>Stores a stage's output. Throws IOException/UnauthorizedAccessException when the folder is not writable.</summary>
    public void Store(string key, string modelPath, JsonObject? details, double seconds)
    {
        var entry = Path.Combine(Directory, key);
        if (System.IO.Directory.Exists(entry)) return;
        System.IO.Directory.CreateDirectory(Directory);
        // A worker killed while storing (kill -9, a crash) leaves its staging folder; at worst a store fails (MB0516), never a result.
        AtomicFile.RemoveAbandonedStaging(Directory);
        var staging = AtomicFile.NewStagingDirectory(Directory, key);
        try
        {
            File.Copy(modelPath, Path.Combine(staging, ModelFile));
            var json = new JsonObject { ["seconds"] = seconds, ["details"] = details?.DeepClone() };
            File.WriteAllText(Path.Combine(staging, StageFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            AtomicFile.PublishDirectory(staging, entry); // false: another run stored the same key first
        }
        finally
        {
            if (System.IO.Directory.Exists(staging)) System.IO.Directory.Delete(staging, recursive: true);
        }
    }
}

/// <summary>A stage output found in the cache: its technique details and how long the stage took when it ran.</summary>
public sealed record CachedStage(JsonObject? Details, double Seconds);
