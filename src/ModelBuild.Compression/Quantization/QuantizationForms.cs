using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// The registry of quantized forms: the words <c>--quantize</c> accepts, the forms <c>auto</c> tries and the form
/// the latency gate falls back to all derive from <see cref="All"/>. Order is the order of the words in help and errors.
/// </summary>
public static class QuantizationForms
{
    public const string None = "none";
    public const string Auto = "auto";

    public static IReadOnlyList<IQuantizationForm> All { get; } =
    [
        new DynamicInt8Quantizer(),
        new StaticQdqInt8Quantizer(),
        new Int8WeightStorage(),
        new Int4WeightQuantizer(),
        new Fp16Converter(),
    ];

    /// <summary>Every word <c>--quantize</c> accepts, canonical names only: none, each form, auto.</summary>
    public static IReadOnlyList<string> Words { get; } = [None, .. All.Select(f => f.Name), Auto];

    /// <summary>The form written instead when the requested one is slower than float: int8 weights in the file, float kernels at run time.</summary>
    public static IQuantizationForm LatencyFallback { get; } = Get(Int8WeightStorage.FormName);

    /// <summary>The opset <c>auto</c> prepares the graph for: the highest any of its forms needs.</summary>
    public static int AutoOpset { get; } = All.Where(f => f.AutoRank is not null).Max(f => f.MinimumOpset);

    /// <summary>The smallest weight fraction any of <c>auto</c>'s forms can reach.</summary>
    public static double AutoBestCaseSizeRatio { get; } = All.Where(f => f.AutoRank is not null).Max(f => f.BestCaseSizeRatio);

    /// <summary>The canonical word for <paramref name="text"/> (none, a form's name, auto); MB0207 for an unknown word.</summary>
    public static string Parse(string? text)
    {
        var word = (text ?? None).Trim().ToLowerInvariant();
        if (word is "" or None) return None;
        if (word == Auto) return Auto;
        return All.FirstOrDefault(f => f.Name == word || f.Aliases.Contains(word))?.Name
            ?? throw new ModelBuildException("MB0207", $"Unknown quantization form '{text}'.",
                $"Use --quantize {string.Join(", ", Words.Take(Words.Count - 1))} or {Words[^1]}.");
    }

    /// <summary>The form named <paramref name="name"/> (a canonical word from <see cref="Parse"/>).</summary>
    public static IQuantizationForm Get(string name) => All.First(f => f.Name == name);

    /// <summary>
    /// The form a <c>--quantize</c> word names that would leave the packed weights of a fused Attention float (for auto,
    /// "auto" with the forms it may try that do), or null when every form it may write reaches them.
    /// </summary>
    public static string? LeavingFusedAttentionFloat(string? quantize, bool preferSize)
    {
        var word = Parse(quantize);
        if (word == None) return null;
        if (word != Auto) return Get(word).ReachesFusedAttention ? null : word;
        // Any model: the forms auto may try with this preference on some model.
        var facts = new QuantizationFacts(HasCalibrationData: true, HasMatMulOrGemm: true, HasConv: true, preferSize);
        var unreached = All.Where(f => f.AutoRank is not null && !f.ReachesFusedAttention && f.FitsAuto(facts)).Select(f => f.Name).ToList();
        return unreached.Count == 0 ? null : $"auto{(preferSize ? " --prefer size" : "")} ({string.Join(", ", unreached)})";
    }

    /// <summary>The forms <c>auto</c> tries on a model with these facts, in rank order.</summary>
    public static IReadOnlyList<IQuantizationForm> AutoCandidates(QuantizationFacts facts) =>
        All.Where(f => f.AutoRank is not null && f.FitsAuto(facts)).OrderBy(f => f.AutoRank).ToList();
}
