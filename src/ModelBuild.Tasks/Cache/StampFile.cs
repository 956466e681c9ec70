using ModelBuild.Onnx;
using System.Text.Json;

namespace ModelBuild.Tasks.Cache;

/// <summary>
/// The per-item stamp in obj/: the cache key of the output beside it and the fingerprint of the inputs it was made
/// from. The target's Inputs/Outputs compare its timestamp; the task compares its content, so a touched but unchanged
/// input costs one hash and no worker. Written temp + rename, like every output.
/// </summary>
internal sealed class StampFile
{
    public string Key { get; set; } = "";
    public string Fingerprint { get; set; } = "";
    public List<string> Inputs { get; set; } = [];

    public static StampFile? TryRead(string path)
    {
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize<StampFile>(File.ReadAllText(path)) : null;
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return null; // An unreadable stamp only means "not up to date".
        }
    }

    public void Write(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));
}
