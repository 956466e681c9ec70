using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Compression.Pipeline.SessionTuning;

/// <summary>
/// The tuned session settings, written next to the model as <c>&lt;model&gt;.session.json</c> and read by the runtime
/// pool (ModelBuild.Runtime's RecordedSessionSettings). A separate file rather than the model's metadata_props:
/// the model's bytes stay a deterministic function of the inputs and seed (and content-addressed in the caches), while
/// this choice comes from timing and may differ between runs and machines. It names the model it was measured for by
/// SHA-256, so a sidecar left beside another model is ignored.
/// </summary>
public static class SessionSettingsSidecar
{
    public const string Format = "modelbuild.session/1";

    public static string PathFor(string modelPath) => modelPath + ".session.json";

    /// <summary>The sidecar's content: the settings the runtime applies, then what they were measured from.</summary>
    public static JsonObject ToJson(SessionTuningResult result, string? modelSha256)
    {
        var chosen = result.Chosen;
        var json = new JsonObject
        {
            ["format"] = Format,
            ["modelSha256"] = modelSha256,
            ["intraOpThreads"] = chosen.IntraOpThreads,
            ["interOpThreads"] = chosen.InterOpThreads,
            ["graphOptimizationLevel"] = chosen.LevelName,
            ["executionMode"] = chosen.ModeName,
            ["measured"] = new JsonObject
            {
                ["batch"] = 1,
                ["processorCount"] = result.ProcessorCount,
                ["cpu"] = CpuName(),
                ["onnxRuntime"] = OrtEnv.Instance().GetVersionString(),
                ["rounds"] = result.Rounds,
                ["defaultMicroseconds"] = Math.Round(result.DefaultMicroseconds, 2),
                ["chosenMicroseconds"] = Math.Round(result.ChosenMicroseconds, 2),
                ["requiredGain"] = SessionTuner.RequiredGain,
                ["candidates"] = new JsonArray(result.Candidates.Select(c => (JsonNode)new JsonObject
                {
                    ["intraOpThreads"] = c.Candidate.IntraOpThreads,
                    ["interOpThreads"] = c.Candidate.InterOpThreads,
                    ["graphOptimizationLevel"] = c.Candidate.LevelName,
                    ["executionMode"] = c.Candidate.ModeName,
                    ["medianMicroseconds"] = Math.Round(c.MedianMicroseconds, 2),
                    ["ratioToDefault"] = Math.Round(c.RatioToDefault, 3),
                }).ToArray()),
            },
        };
        if (modelSha256 is null) json.Remove("modelSha256");
        return json;
    }

    /// <summary>Writes the sidecar of <paramref name="modelPath"/> (temp file + rename), naming the model's current bytes.</summary>
    public static string Write(string modelPath, SessionTuningResult result)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(modelPath)));
        var path = PathFor(Path.GetFullPath(modelPath));
        var text = ToJson(result, sha).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        ModelBuild.Onnx.AtomicFile.WriteAllBytes(path, Encoding.UTF8.GetBytes(text));
        return path;
    }

    private static string CpuName()
    {
        try
        {
            if (OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo"))
            {
                var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
                if (line is not null) return line[(line.IndexOf(':') + 1)..].Trim();
            }
        }
        catch (IOException)
        {
        }
        return string.Create(CultureInfo.InvariantCulture, $"{RuntimeInformation.ProcessArchitecture}");
    }
}
