using System.Text.Json.Nodes;

namespace ModelBuild.Compression.Quantization;

/// <summary>One quantized form that was built and measured, with why it was or was not kept.</summary>
public sealed class QuantizationCandidate
{
    public required string Form { get; init; }
    public required string Path { get; init; }
    public long Bytes { get; set; }
    public double? Accuracy { get; set; }
    public double? Agreement { get; set; }
    public double? OutputSqnrDb { get; set; }
    public double? LatencyMicroseconds { get; set; }
    /// <summary>Latency relative to the float input, paired by measurement round (what the latency gate decides on).</summary>
    public double? LatencyRatioToFloat { get; set; }
    public IReadOnlyList<string> QuantizedNodes { get; set; } = [];
    public List<string> KeptFloat { get; } = [];
    /// <summary>Nodes static int8 left float because their float form measured faster (<see cref="MeasuredExclusion"/>).</summary>
    public List<string> KeptFloatForSpeed { get; } = [];
    public List<(string Node, string OpType, double Db)> LayerSqnr { get; set; } = [];
    public string? AccuracyFailure { get; set; }
    public string? LatencyFailure { get; set; }
    /// <summary>Why the latency gate passed a candidate its measurement called slower (<see cref="FloatKernelMatch"/>).</summary>
    public string? LatencyNote { get; set; }
    /// <summary>The gates that were measured for this candidate ("accuracy drop", "agreement", "not slower than float").</summary>
    public List<string> GatesChecked { get; } = [];
    /// <summary>Set when the file is larger than the float input (e.g. weights out of the form's reach, in subgraphs): never kept.</summary>
    public string? SizeFailure { get; set; }
    public bool Passed => AccuracyFailure is null && LatencyFailure is null && SizeFailure is null;

    public JsonObject ToJson()
    {
        var json = Json();
        if (KeptFloatForSpeed.Count > 0) json["keptFloatForSpeed"] = new JsonArray(KeptFloatForSpeed.Select(n => (JsonNode)n).ToArray());
        return json;
    }

    private JsonObject Json() => new()
    {
        ["form"] = Form,
        ["bytes"] = Bytes,
        ["latencyMicroseconds"] = LatencyMicroseconds is { } l ? Math.Round(l, 2) : null,
        ["latencyRatioToFloat"] = LatencyRatioToFloat is { } r ? Math.Round(r, 3) : null,
        ["accuracy"] = Accuracy,
        ["agreement"] = Agreement,
        ["outputSqnrDb"] = OutputSqnrDb is { } s && double.IsFinite(s) ? Math.Round(s, 2) : null,
        ["quantizedNodes"] = QuantizedNodes.Count,
        ["keptFloat"] = KeptFloat.Count,
        ["gatesChecked"] = new JsonArray(GatesChecked.Select(g => (JsonNode)g).ToArray()),
        // No gate measured: neither passed nor failed, and the row says so instead of "passes"; a larger file always fails.
        ["passed"] = SizeFailure is not null ? false : GatesChecked.Count == 0 ? null : Passed,
        ["reason"] = SizeFailure ?? AccuracyFailure ?? LatencyFailure ?? Unfailed(),
    };

    private string Unfailed()
    {
        var latency = GatesChecked.Contains(LatencyGate.Name) ? "" : "; latency not measured, so not checked against float";
        if (GatesChecked.Count == 0) return "no gate checked: no accuracy gate measured and latency not measured";
        return "passes " + string.Join(" and ", GatesChecked) + latency + (LatencyNote is null ? "" : " (" + LatencyNote + ")");
    }
}
