using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace ModelBuild.Compression.Pruning;

/// <summary>The Markdown pruning report: one row per step, then the groups pruned, the groups left and why.</summary>
public static class PruningReportWriter
{
    public static string Markdown(PruningScheduleResult result)
    {
        var c = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine($"# Pruning report ({result.Mode.ToString().ToLowerInvariant()})");
        s.AppendLine();
        s.AppendLine($"Recovery: {result.Recovery ?? "none"}.");
        foreach (string note in result.Notes)
        {
            s.AppendLine();
            s.AppendLine($"**Note:** {note}");
        }
        s.AppendLine();
        s.AppendLine("| step | pruned | parameters | non-zero | FLOPs (batch 1) | bytes | deflated bytes | latency (us, batch 1) | accuracy before recovery | accuracy | recovery (s) |");
        s.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        var first = result.Steps[0];
        foreach (var r in result.Steps)
        {
            string Ratio(long v, long b) => b == 0 ? "" : string.Format(c, " ({0:F3}x)", (double)v / b);
            s.AppendLine(string.Format(c, "| {0} | {1:P0} | {2:N0}{3} | {4:N0} | {5:N0}{6} | {7:N0} | {8:N0} | {9} | {10} | {11} | {12:F1} |",
                r.Step, r.Fraction, r.Parameters, Ratio(r.Parameters, first.Parameters), r.NonZeroParameters, r.Flops, Ratio(r.Flops, first.Flops),
                r.Bytes, r.CompressedBytes,
                r.LatencyMicroseconds is { } l ? l.ToString("F1", c) + (first.LatencyMicroseconds is { } l0 && l0 > 0 ? string.Format(c, " ({0:F2}x)", l / l0) : "") : "-",
                r.AccuracyBeforeRecovery is { } ab ? ab.ToString("F2", c) + "%" : "-",
                r.Accuracy is { } a ? a.ToString("F2", c) + "%" : "-",
                r.RecoverySeconds));
        }
        foreach (var r in result.Steps.Where(r => r.Groups.Count > 0))
        {
            s.AppendLine();
            s.AppendLine($"## Step {r.Step}: groups pruned");
            s.AppendLine();
            s.AppendLine("| group | kind | units before | units after | unit size | layers |");
            s.AppendLine("| --- | --- | ---: | ---: | ---: | --- |");
            foreach (var g in r.Groups)
            {
                s.AppendLine($"| {g.Name} | {g.Kind} | {g.UnitsBefore} | {g.UnitsAfter} | {g.UnitSize} | {string.Join(", ", g.Nodes.Distinct())} |");
            }
        }
        if (result.Skipped.Count > 0)
        {
            s.AppendLine();
            s.AppendLine("## Groups left as they are");
            s.AppendLine();
            s.AppendLine("| group | kind | units | reason |");
            s.AppendLine("| --- | --- | ---: | --- |");
            foreach (var g in result.Skipped)
            {
                s.AppendLine($"| {g.Name} | {g.Kind} | {g.Units} | {g.Reason} |");
            }
        }
        foreach (string w in result.Warnings)
        {
            s.AppendLine();
            s.AppendLine($"> {w}");
        }
        return s.ToString();
    }

    /// <summary>The same content as JSON, for <c>StageReport.Details</c> of the compression report.</summary>
    public static JsonObject Details(PruningScheduleResult result)
    {
        var steps = new JsonArray();
        foreach (var r in result.Steps)
        {
            var groups = new JsonArray();
            foreach (var g in r.Groups)
            {
                groups.Add(new JsonObject
                {
                    ["group"] = g.Name,
                    ["kind"] = g.Kind.ToString(),
                    ["unitsBefore"] = g.UnitsBefore,
                    ["unitsAfter"] = g.UnitsAfter,
                    ["unitSize"] = g.UnitSize,
                    ["layers"] = new JsonArray(g.Nodes.Distinct().Select(n => (JsonNode?)JsonValue.Create(n)).ToArray()),
                });
            }
            steps.Add(new JsonObject
            {
                ["step"] = r.Step,
                ["fraction"] = r.Fraction,
                ["parameters"] = r.Parameters,
                ["nonZeroParameters"] = r.NonZeroParameters,
                ["flops"] = r.Flops,
                ["bytes"] = r.Bytes,
                ["deflatedBytes"] = r.CompressedBytes,
                ["latencyMicroseconds"] = r.LatencyMicroseconds,
                ["accuracyBeforeRecovery"] = r.AccuracyBeforeRecovery,
                ["accuracy"] = r.Accuracy,
                ["recoverySeconds"] = r.RecoverySeconds,
                ["revivedOutputs"] = r.RevivedOutputs.Count > 0 ? new JsonArray(r.RevivedOutputs.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()) : null,
                ["groups"] = groups,
            });
        }
        var skipped = new JsonArray();
        foreach (var g in result.Skipped)
        {
            skipped.Add(new JsonObject { ["group"] = g.Name, ["kind"] = g.Kind.ToString(), ["units"] = g.Units, ["reason"] = g.Reason });
        }
        return new JsonObject
        {
            ["mode"] = result.Mode.ToString().ToLowerInvariant(),
            ["recovery"] = result.Recovery,
            ["steps"] = steps,
            ["notPruned"] = skipped,
            ["warnings"] = new JsonArray(result.Warnings.Select(w => (JsonNode?)JsonValue.Create(w)).ToArray()),
            ["notes"] = new JsonArray(result.Notes.Select(w => (JsonNode?)JsonValue.Create(w)).ToArray()),
        };
    }
}
