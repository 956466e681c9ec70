namespace ModelBuild.Compression.Pipeline.Contract;

/// <summary>
/// The lines the worker (<c>modelbuild compress</c>) writes to stdout for the MSBuild task to turn into messages.
/// Any other line is plain progress. Shared as source with ModelBuild.Tasks; BCL only.
/// <code>
/// ##modelbuild[progress] quantize: calibrating 3/8 tensors
/// ##modelbuild[stage] quantize 1.84s
/// ##modelbuild[warning MB0203] cause | remedy
/// ##modelbuild[error MB0201] cause | remedy
/// ##modelbuild[summary] teacher 281,255 B -> result 74,112 B, 6.2 us -> 5.9 us, 100.00% -> 100.00%
/// </code>
/// </summary>
public static class WorkerProtocol
{
    public const string Prefix = "##modelbuild[";

    public static string Progress(string text) => $"{Prefix}progress] {text}";
    public static string Stage(string name, double seconds) => FormattableString.Invariant($"{Prefix}stage] {name} {seconds:0.00}s");
    public static string Warning(string code, string cause, string remedy) => $"{Prefix}warning {code}] {cause} | {remedy}";
    public static string Error(string code, string cause, string remedy) => $"{Prefix}error {code}] {cause} | {remedy}";
    public static string Summary(string text) => $"{Prefix}summary] {text}";

    /// <summary>Parses a worker line; returns false for a plain line.</summary>
    public static bool TryParse(string line, out string kind, out string? code, out string text)
    {
        kind = ""; code = null; text = line;
        if (!line.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var close = line.IndexOf(']', Prefix.Length);
        if (close < 0) return false;
        var head = line[Prefix.Length..close].Split(' ', 2);
        kind = head[0];
        code = head.Length > 1 ? head[1] : null;
        text = close + 2 <= line.Length ? line[(close + 2 > line.Length ? line.Length : close + 2)..] : "";
        return true;
    }
}
