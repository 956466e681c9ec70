using ModelBuild.Compression.Structure;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Pruning;

/// <summary>The MB04xx pruning diagnostics, one factory per code (docs/diagnostics.md lists them).</summary>
public static class PruningErrors
{
    // The warnings are text, not exceptions; their codes are named once here.
    const string NothingPrunable = "MB0402";
    const string GroupNotRewritable = "MB0403";

    public static ModelBuildException Fraction(double fraction, string? model) => new("MB0401", $"The pruning fraction {fraction} is outside (0, 1).", "Pass --prune (or Prune=\"...\") a fraction strictly between 0 and 1, e.g. 0.5 to remove half of each group's units.", model);

    public static string NothingPrunableWarning(string model, IEnumerable<PruningGroup> groups)
    {
        var listed = groups.Select(g => $"{g.Name} ({g.Kind}, {g.Units} units): {g.NotPrunableReason ?? "excluded"}").ToList();
        return $"warning {NothingPrunable}: nothing in '{model}' can be pruned with these options; the model is left as is. "
            + (listed.Count == 0
                ? "No Gemm, MatMul or Conv layer with constant weights was found."
                : "Candidate groups: " + string.Join("; ", listed) + ".");
    }

    public static string NothingToDropWarning(string model) =>
        $"warning {NothingPrunable}: '{model}' has no residual block or transformer layer to drop; the model is left as is.";

    public static string NotRewritableWarning(PruningGroup group) =>
        $"warning {GroupNotRewritable}: group {group.Name} ({group.Kind}, {group.Units} units) is left as is: {group.NotPrunableReason}.";

    public static ModelBuildException ExcludeNothing(string pattern, string? model) => new("MB0404", $"The --prune-exclude pattern '{pattern}' matches no node or initializer of the model.", "Use node or initializer names as printed by `modelbuild inspect` (a trailing * matches a prefix).", model);

    public static ModelBuildException NeedsData(string criterion, string? model) => new("MB0405", $"The {criterion} importance criterion needs calibration data and none was given.", "Pass --calibration-data <x.npy> (or --train-data), or use the L1/L2 magnitude criterion.", model);

    public static ModelBuildException Schedule(string what, string? model) => new("MB0406", $"The pruning schedule is invalid: {what}.", "Use --prune-steps with a whole number from 1 to the number of units in the smallest group.", model);

    public static ModelBuildException Calibration(string what, string? file) => new("MB0407", $"The calibration data does not fit the model: {what}.", "Give an array shaped [samples, ...model input dims] with the model input's element type.", file);
}
