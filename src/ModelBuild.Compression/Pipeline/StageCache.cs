using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelBuild.Compression.Pipeline;

/// <summary>
/// Each stage's output by key, so that changing only a later stage's settings (say <c>Quantize</c>) re-runs only that
/// stage: the key hashes the stage's input model bytes (the previous stage's output, so the keys chain), the stage's
/// own normalized settings, the bytes of the data files it reads, and the engine versions. An entry is a folder
/// <c>&lt;key&gt;/</c> with <c>model.onnx</c> and <c>stage.json</c>, written under a temporary name and renamed into
/// place, so an entry that exists is complete. Concurrent writers of one key both produce a valid entry; the first
/// rename wins.
/// </summary>
public sealed class StageCache(string directory)
{
    /// <summary>Bumped when the entry layout or what the key covers changes.</summary>
    private const string Scheme = "modelbuild-stage-cache-v1";
    private const string ModelFile = "model.onnx";
    private const string StageFile = "stage.json";

    public string Directory { get; } = Path.GetFullPath(directory);

    public static string Key(string stageName, string inputModel, StageCacheInputs inputs)
    {
        var text = new StringBuilder()
            .Append(Scheme).Append('\n')
            .Append("stage=").Append(stageName).Append('\n')
            .Append("input=").Append(HashFile(inputModel)).Append('\n')
            .Append("settings=").Append(JsonSerializer.Serialize(inputs.Settings, Contract.CompressionRecipe.JsonOptions)).Append('\n');
        foreach (var file in inputs.Files) text.Append("file=").Append(file is null ? "-" : HashFile(file)).Append('\n');
        text.Append("modelbuild=").Append(typeof(StageCache).Assembly.GetName().Version).Append('\n')
            .Append("onnxruntime=").Append(typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version).Append('\n')
            .Append("torchsharp=").Append(typeof(TorchSharp.torch).Assembly.GetName().Version).Append('\n');
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()))).ToLowerInvariant();
    }

    private static string HashFile(string path)
    {
        // Data may be a folder (images, TensorProto files) or "file.npz:array": DataInputHash covers both.
        if (Contract.DataInputHash.IsGenerated(path)) return Contract.DataInputHash.Compute(path);
        var colon = path.LastIndexOf(':');
        if (!File.Exists(path) && !System.IO.Directory.Exists(path) && !(colon > 1 && File.Exists(path[..colon]))) return "missing:" + path;
        return Contract.DataInputHash.Compute(path);
    }

    /// <summary>The cached output for <paramref name="key"/>, copied to <paramref name="modelPath"/>; null on a miss.</summary>
    public CachedStage? TryGet(string key, string modelPath)
    {
        var entry = Path.Combine(Directory, key);
        var model = Path.Combine(entry, ModelFile);
        var stage = Path.Combine(entry, StageFile);
        if (!File.Exists(model) || !File.Exists(stage)) return null;
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
        var staging = Path.Combine(Directory, $"{key}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        System.IO.Directory.CreateDirectory(staging);
        try
        {
            File.Copy(modelPath, Path.Combine(staging, ModelFile));
            var json = new JsonObject { ["seconds"] = seconds, ["details"] = details?.DeepClone() };
            File.WriteAllText(Path.Combine(staging, StageFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            try { System.IO.Directory.Move(staging, entry); }
            catch (IOException) when (System.IO.Directory.Exists(entry)) { } // another run stored the same key first
        }
        finally
        {
            if (System.IO.Directory.Exists(staging)) System.IO.Directory.Delete(staging, recursive: true);
        }
    }
}

/// <summary>A stage output found in the cache: its technique details and how long the stage took when it ran.</summary>
public sealed record CachedStage(JsonObject? Details, double Seconds);
