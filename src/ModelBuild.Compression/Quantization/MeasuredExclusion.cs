using System.Globalization;
using ModelBuild.Compression.Evaluation;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Static int8's per-node exclusion decided by measurement on this CPU (ONNX Runtime's quantizer takes a
/// nodes_to_exclude list from its user; here the build times it): for each quantized node in graph order, the model with
/// that node also left float is timed against the current model, interleaved at batch 1 with one thread, and the node
/// stays float when that is faster by more than <see cref="Margin"/> (paired by round, as the latency gate decides).
/// A small MatMul's integer kernel plus the QuantizeLinear in front of it can cost more than the float MatMul (a
/// 1-layer d 64 student at 9 tokens), while the same nodes pay on a larger model; the decision is per node, on this CPU.
/// The weights of the nodes left float keep int8 storage (Cast + Mul folded at load, <see cref="Int8WeightStorage"/>),
/// so the file stays about as small; the result is judged by the accuracy gate like every candidate.
/// </summary>
internal sealed class MeasuredExclusion
{
    /// <summary>
    /// Fewer runs than this decide nothing (two of <see cref="LatencyMeter"/>'s rounds): with <c>--latency-runs 1</c> a
    /// timing is noise, and the static candidate is then built without exclusions as before.
    /// </summary>
    public const int MinimumRuns = 100;

    /// <summary>
    /// How much faster (paired ratio) the float-node variant must be to win. 0: a node stays int8 only where int8 measured
    /// faster; on the d 64 student each node is 1-2.5% of the model, so a margin above the round-to-round noise
    /// (about 2%) would keep int8 nodes that measured slower (benchmarks/RESULTS.md, "Static int8 by measurement").
    /// </summary>
    public double Margin { get; init; } = 0;

    /// <summary>
    /// The paired ratio (variant's time / current's) when the variant also leaves the named node float; LatencyMeter's
    /// interleaved rounds over the two files by default (a test gives fixed ratios to check what is done with them).
    /// </summary>
    public Func<string, string, string, Data.InputSet, int, double> PairedRatio { get; init; } =
        (node, current, variant, sample, runs) => LatencyMeter.Compare([current, variant], sample, runs).RatiosToFirst[1];

    public sealed record Result(QuantizedModel Model, List<string> KeptFloatForSpeed, List<string> Decisions);

    /// <summary>
    /// Starts from <paramref name="start"/> (built with <paramref name="kept"/> float, the repair's choice) and returns
    /// the model with the nodes whose float form measured faster left float, their weights in int8 storage.
    /// </summary>
    public Result Run(QuantizedModel start, IReadOnlySet<string> kept, Func<IReadOnlySet<string>, QuantizedModel> build,
        Data.InputSet sample, int runs, string workDirectory, Action<string>? progress = null)
    {
        var excluded = new HashSet<string>(kept, StringComparer.Ordinal);
        var forSpeed = new List<string>();
        var decisions = new List<string>();
        var current = start;
        var currentPath = Path.Combine(workDirectory, "measured-current.onnx");
        var variantPath = Path.Combine(workDirectory, "measured-variant.onnx");
        try
        {
            OnnxModelAccess.Save(current.Model, currentPath);
            foreach (var node in start.QuantizedNodes.ToList())
            {
                var variant = build(new HashSet<string>(excluded.Append(node), StringComparer.Ordinal));
                OnnxModelAccess.Save(variant.Model, variantPath);
                var ratio = PairedRatio(node, currentPath, variantPath, sample, runs);
                var floatWins = ratio < 1 - Margin;
                decisions.Add(string.Create(CultureInfo.InvariantCulture, $"{node}: float/int8 {ratio:0.000}{(floatWins ? ", kept float" : "")}"));
                progress?.Invoke("quantize: measured " + decisions[^1]);
                if (!floatWins) continue;
                excluded.Add(node);
                forSpeed.Add(node);
                current = variant;
                File.Copy(variantPath, currentPath, overwrite: true);
            }
        }
        finally
        {
            // A failed build or timing must not leave its candidates in the work folder either.
            File.Delete(currentPath);
            File.Delete(variantPath);
        }
        if (forSpeed.Count == 0) return new Result(start, forSpeed, decisions);
        var stored = new Int8WeightStorage().Quantize(current.Model, forSpeed.ToHashSet(StringComparer.Ordinal)).Model;
        return new Result(current with { Model = stored }, forSpeed, decisions);
    }
}
