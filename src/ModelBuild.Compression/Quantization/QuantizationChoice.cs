using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.StageContract;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Which measured candidate the quantize stage writes, with the warnings that explain it. For <c>auto</c>, the
/// <see cref="AutoQuantizer"/>'s pick; for an explicit form, that form unless its file is larger than the float input
/// or it is slower than float (then the latency fallback, or the float input); --force overrides both.
/// Null: the float input is written.
/// </summary>
internal static class QuantizationChoice
{
    /// <summary>auto's choice among the candidates (every gate measured), or null when none passes.</summary>
    public static QuantizationCandidate? Auto(IReadOnlyList<QuantizationCandidate> candidates, CompressionRecipe recipe, IWorkerLog log)
    {
        var chosen = AutoQuantizer.Choose(candidates, recipe.Force, preferSize: recipe.PrefersSize());
        if (chosen?.LatencyFailure is not null)
            log.Warning("MB0205", $"auto: {chosen.Form} is {chosen.LatencyFailure}; written anyway because of --force.", "Drop --force to let auto keep only forms that are faster than float.");
        if (chosen is null)
            log.Warning("MB0205", "auto: no quantized form passed the accuracy and latency gates on this CPU; the output is the float input. " + Reasons(candidates),
                "Loosen --max-accuracy-drop/--min-agreement, or accept a slower model with --quantize <form> --force.");
        return chosen;
    }

    /// <summary>
    /// The requested form (the only candidate), checked for size and latency; <paramref name="fallBack"/> builds the
    /// faster form when it is slower than float (added to <paramref name="candidates"/> for the report).
    /// <paramref name="leftFloat"/> names the weights no form reaches, which explain a larger file.
    /// </summary>
    public static QuantizationCandidate? Requested(List<QuantizationCandidate> candidates, bool force, IReadOnlyList<string> leftFloat, IWorkerLog log,
        Func<QuantizationCandidate, QuantizationCandidate?> fallBack)
    {
        var chosen = candidates[0];
        if (chosen.SizeFailure is { } tooLarge && !force)
        {
            log.Warning("MB0216", $"{chosen.Form} would write {tooLarge}{(leftFloat.Count > 0 ? " (its weights sit where it does not reach: " + string.Join(", ", leftFloat) + ")" : "")}; the float model is kept.",
                "Use a form that reaches this model's weights, pass --force to write the larger file anyway, or drop --quantize for this model.");
            return null;
        }
        if (chosen.SizeFailure is { } forcedLarger)
            log.Warning("MB0216", $"{chosen.Form} writes {forcedLarger}; written anyway because of --force.", "Drop --force to keep the smaller float model.");
        if (chosen.AccuracyFailure is not null)
            log.Warning("MB0206", $"{chosen.Form}: {chosen.AccuracyFailure} even with {chosen.KeptFloat.Count} layer(s) kept float.",
                "The final gate decides; consider another form or more calibration data.");
        if (chosen.LatencyFailure is null) return chosen;
        if (force)
        {
            log.Warning("MB0205", $"{chosen.Form} is {chosen.LatencyFailure}; written anyway because of --force.", "Drop --force to let the latency gate fall back to a faster form.");
            return chosen;
        }
        var fallback = fallBack(chosen);
        if (fallback is not null) candidates.Add(fallback);
        log.Warning("MB0205", $"{chosen.Form} is {chosen.LatencyFailure}; writing {(fallback?.Passed == true ? fallback.Form + " (int8 weights in the file, float kernels at run time)" : "the float input")} instead.",
            "Pass --force to write the slower quantized model anyway.");
        return fallback?.Passed == true ? fallback : null;
    }

    private static string Reasons(IEnumerable<QuantizationCandidate> candidates) =>
        string.Join("; ", candidates.Select(c => $"{c.Form}: {c.SizeFailure ?? c.AccuracyFailure ?? c.LatencyFailure}"));
}
