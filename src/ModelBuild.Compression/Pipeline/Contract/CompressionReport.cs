using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelBuild.Compression.Pipeline.Contract;

/// <summary>
/// The JSON report (<c>--report</c>), as DESIGN.md "Command line" specifies: teacher and result figures, one entry
/// per stage, and the cache key. Shared as source with ModelBuild.Tasks, which reads it to print the build summary
/// and to state the quality gate's figures; BCL only.
/// </summary>
public sealed class CompressionReport
{
    public ModelFigures Teacher { get; set; } = new();
    public ModelFigures Result { get; set; } = new();
    public List<StageReport> Stages { get; set; } = [];
    public string? CacheKey { get; set; }
    /// <summary>The model inputs fed (evaluation data or generated), and the output accuracy and agreement are computed on.</summary>
    public List<string> Inputs { get; set; } = [];
    public string? MetricOutput { get; set; }
    public List<string> Warnings { get; set; } = [];
    /// <summary>The run's one-line summary (sizes, latency, accuracy), as the CLI and the build print it.</summary>
    public string? Summary { get; set; }
    /// <summary>When a quality gate failed: the figures it judged and the limits set (the build's MB0607 states it).</summary>
    public string? Gate { get; set; }
    /// <summary>The session settings chosen for the result (--tune-session auto): the sidecar's content; null when not tuned.</summary>
    public JsonObject? Session { get; set; }
    /// <summary>Technique-specific detail (candidates tried, layers kept in float, SQNR table, pruned groups...).</summary>
    public JsonObject? Details { get; set; }

    public string ToJson() => JsonSerializer.Serialize(this, CompressionRecipe.JsonOptions);

    public static CompressionReport FromJson(string json) =>
        JsonSerializer.Deserialize<CompressionReport>(json, CompressionRecipe.JsonOptions)
        ?? throw new JsonException("The report is empty.");
}

/// <summary>Figures of one model: size, parameters, batch-1 latency, accuracy (percent) and agreement with the teacher (percent).</summary>
public class ModelFigures
{
    public string Path { get; set; } = "";
    public long Bytes { get; set; }
    public long Parameters { get; set; }
    public double? LatencyMicroseconds { get; set; }
    public double? Accuracy { get; set; }
    public double? Agreement { get; set; }
}

/// <summary>The figures after one stage (distill, prune, quantize) and how long it took.</summary>
public sealed class StageReport : ModelFigures
{
    public string Name { get; set; } = "";
    public double Seconds { get; set; }
    public JsonObject? Details { get; set; }
    /// <summary>The per-stage cache key (null when the run had no stage cache).</summary>
    public string? CacheKey { get; set; }
    /// <summary>True when the stage's output came from the stage cache instead of running the stage.</summary>
    public bool CacheHit { get; set; }
}
