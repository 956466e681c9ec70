using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Runtime;

/// <summary>
/// The session settings `modelbuild compress` measured for a model on the build machine, read from the sidecar file
/// <c>&lt;model&gt;.session.json</c> next to it (see docs/runtime.md, "Session settings chosen per model"). The sidecar is
/// kept out of the model file on purpose: the model's bytes stay deterministic (same inputs + seed, same bytes) while
/// the timing-based choice is not.
/// </summary>
public sealed record RecordedSessionSettings(
    int IntraOpNumThreads,
    int InterOpNumThreads,
    GraphOptimizationLevel GraphOptimizationLevel,
    ExecutionMode ExecutionMode,
    string? ModelSha256,
    string Source)
{
    /// <summary>The sidecar's name for a model file: the model's full name plus ".session.json".</summary>
    public static string SidecarPath(string modelPath) => modelPath + ".session.json";

    /// <summary>The sidecar of <paramref name="modelPath"/>, or null when there is none; a malformed one is MB0740.</summary>
    public static RecordedSessionSettings? ReadSidecar(string modelPath)
    {
        var path = SidecarPath(modelPath);
        string text;
        try
        {
            if (!File.Exists(path)) return null;
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Malformed(path, $"it cannot be read ({e.Message})", e);
        }
        return Parse(text, path);
    }

    /// <summary>Parses a sidecar's JSON; <paramref name="source"/> names the file in errors.</summary>
    public static RecordedSessionSettings Parse(string json, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Malformed(source, "it is not a JSON object");
            var format = OptionalString(root, "format", source);
            if (format is not null && format != "modelbuild.session/1")
                throw Malformed(source, $"its format '{format}' is not modelbuild.session/1");
            var intra = RequiredInt(root, "intraOpThreads", source);
            var inter = root.TryGetProperty("interOpThreads", out _) ? RequiredInt(root, "interOpThreads", source) : 1;
            var level = OptionalString(root, "graphOptimizationLevel", source) ?? "all";
            var mode = OptionalString(root, "executionMode", source) ?? "sequential";
            return new RecordedSessionSettings(intra, inter, ParseLevel(level, source), ParseMode(mode, source),
                OptionalString(root, "modelSha256", source), source);
        }
        catch (JsonException e)
        {
            throw Malformed(source, $"it is not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>How a graph optimization level is written in a sidecar: none, basic, extended, all.</summary>
    public static string LevelName(GraphOptimizationLevel level) => level switch
    {
        GraphOptimizationLevel.ORT_DISABLE_ALL => "none",
        GraphOptimizationLevel.ORT_ENABLE_BASIC => "basic",
        GraphOptimizationLevel.ORT_ENABLE_EXTENDED => "extended",
        _ => "all",
    };

    private static GraphOptimizationLevel ParseLevel(string value, string source) => value.ToLowerInvariant() switch
    {
        "none" => GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic" => GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended" => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all" => GraphOptimizationLevel.ORT_ENABLE_ALL,
        _ => throw Malformed(source, $"graphOptimizationLevel '{value}' is not one of none, basic, extended, all"),
    };

    private static ExecutionMode ParseMode(string value, string source) => value.ToLowerInvariant() switch
    {
        "sequential" => ExecutionMode.ORT_SEQUENTIAL,
        "parallel" => ExecutionMode.ORT_PARALLEL,
        _ => throw Malformed(source, $"executionMode '{value}' is not one of sequential, parallel"),
    };

    private static int RequiredInt(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var value))
            throw Malformed(source, $"it has no \"{name}\"");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number) || number < 1 || number > 1024)
            throw Malformed(source, string.Create(CultureInfo.InvariantCulture, $"\"{name}\" is {value.GetRawText()}, not a whole number from 1 to 1024"));
        return number;
    }

    private static string? OptionalString(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw Malformed(source, $"\"{name}\" is {value.GetRawText()}, not a string");
        return value.GetString();
    }

    private static ModelRuntimeException Malformed(string path, string why, Exception? inner = null) =>
        new(RuntimeErrorCodes.SessionSettingsMalformed,
            $"The session settings file '{path}' cannot be used: {why}.",
            "Write it again with `modelbuild compress` (or fix it by hand: intraOpThreads, interOpThreads, graphOptimizationLevel, executionMode), or delete it to serve with the pool's own settings.",
            path, inner);
}
