using System.Globalization;
using ModelBuild.Compression.Data;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>What one fusion did: how many subgraphs it rewrote, whether the rewrite was kept, and why not.</summary>
public sealed record FusionOutcome(string Name, string Operator, int Matches, bool Kept, double? MaxDifference, string? Note);

/// <summary>
/// The optimized model (null when nothing was kept), every applied fusion's outcome, and the matches of the fusions
/// that were only counted (never kept).
/// </summary>
public sealed record OptimizationResult(string? OutputPath, int NodesBefore, int NodesAfter, IReadOnlyList<FusionOutcome> Fusions, int VerifiedSamples,
    IReadOnlyList<FusionOutcome> Counted)
{
    public bool Changed => OutputPath is not null;
}

/// <summary>
/// Applies the fusions one after another, each to the result of the ones kept so far, and checks every rewrite on the
/// spot: the rewritten graph runs in ONNX Runtime on the given inputs and is kept only when every output stays within
/// the tolerance of the original's; otherwise that fusion is dropped with a note and the next one starts from the
/// graph before it. A fusion marked count-only is applied to a throw-away copy: its matches are reported, its rewrite never kept.
/// </summary>
public sealed class GraphOptimizer
{
    readonly IReadOnlyList<IGraphFusion> _fusions;
    readonly Func<IGraphFusion, bool> _countOnly;

    public GraphOptimizer(IReadOnlyList<IGraphFusion>? fusions = null, double tolerance = FusionVerifier.DefaultTolerance, Func<IGraphFusion, bool>? countOnly = null)
    {
        _fusions = fusions ?? FusionRegistry.Auto();
        Tolerance = tolerance;
        _countOnly = countOnly ?? (_ => false);
    }

    public double Tolerance { get; }

    /// <summary>
    /// Optimizes <paramref name="modelPath"/> into <paramref name="outputPath"/> (written only when a fusion was kept),
    /// verifying on <paramref name="data"/>; temporary candidates go to <paramref name="workDirectory"/>.
    /// </summary>
    public OptimizationResult Optimize(string modelPath, InputSet data, string outputPath, string workDirectory, Action<string>? progress = null)
    {
        var original = OnnxModel.Load(modelPath);
        var before = original.Graph.Nodes.Count;
        var verifier = new FusionVerifier(modelPath, data, Tolerance);
        var current = original;
        var outcomes = new List<FusionOutcome>();
        var counted = new List<FusionOutcome>();
        Directory.CreateDirectory(workDirectory);
        for (var i = 0; i < _fusions.Count; i++)
        {
            var fusion = _fusions[i];
            var candidate = current.Clone();
            int matches;
            try { matches = fusion.Apply(candidate); }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or IndexOutOfRangeException or ModelBuild.Onnx.Diagnostics.ModelBuildException)
            {
                outcomes.Add(new FusionOutcome(fusion.Name, fusion.FusedOperator, 0, false, null, "the rewrite failed: " + e.Message));
                continue;
            }
            if (_countOnly(fusion))
            {
                counted.Add(new FusionOutcome(fusion.Name, fusion.FusedOperator, matches, false, null, "counted only"));
                continue;
            }
            if (matches == 0)
            {
                outcomes.Add(new FusionOutcome(fusion.Name, fusion.FusedOperator, 0, false, null, "no match"));
                continue;
            }
            var path = Path.Combine(workDirectory, string.Create(CultureInfo.InvariantCulture, $"optimize-{i:D2}-{fusion.Name}.onnx"));
            try
            {
                candidate.Save(path);
                var (difference, failure) = verifier.Check(path);
                var kept = failure is null && difference <= Tolerance;
                var note = failure ?? (kept ? null : string.Create(CultureInfo.InvariantCulture,
                    $"dropped: outputs moved by {difference:G3}, more than the tolerance {Tolerance:G3}"));
                outcomes.Add(new FusionOutcome(fusion.Name, fusion.FusedOperator, matches, kept, difference, note));
                progress?.Invoke(kept
                    ? string.Create(CultureInfo.InvariantCulture, $"optimize: {fusion.Name} x{matches} (max difference {difference:G3})")
                    : $"optimize: {fusion.Name} dropped ({note})");
                if (kept) current = candidate;
            }
            finally
            {
                File.Delete(path);
            }
        }
        var after = current.Graph.Nodes.Count;
        if (ReferenceEquals(current, original))
            return new OptimizationResult(null, before, before, outcomes, verifier.Samples, counted);
        current.Save(outputPath);
        return new OptimizationResult(outputPath, before, after, outcomes, verifier.Samples, counted);
    }
}
