using System.Globalization;

namespace ModelBuild.Compression.Data;

/// <summary>
/// Token-id text files: one sequence per line, integer ids separated by spaces, tabs or commas (what a tokenizer's
/// <c>" ".join(map(str, ids))</c> writes). Each sequence is padded with the pad id, or truncated, to the model's
/// sequence length (its input's axis 1); for a model with a dynamic length, to the longest line (tokenizer
/// <c>padding="longest"</c>). Result: an int64 [sequences, length] tensor. No labels: give them with the labels option.
/// </summary>
public static class TokenIdFileReader
{
    /// <summary>Extensions that always mean token ids; <c>.txt</c> does too when the model takes integers.</summary>
    public static readonly string[] Extensions = [".ids", ".tokens"];

    public static bool Handles(string path, ModelInputSignature? input) =>
        Extensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase)
        || (path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) && input is { IsFloat: false });

    public static DataTensor Read(string path, ModelInputSignature? input, long padId)
    {
        if (!File.Exists(path)) throw DataErrors.Missing(path);
        var sequences = new List<long[]>();
        var lineNumber = 0;
        var lines = File.ReadAllLines(path);
        // Trailing blank lines are an editor's final newline, not empty sequences.
        var last = Array.FindLastIndex(lines, l => !string.IsNullOrWhiteSpace(l));
        foreach (var line in lines.Take(last + 1))
        {
            lineNumber++;
            var cells = line.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries);
            if (cells.Length == 0) throw DataErrors.EmptyLine(path, lineNumber);
            var ids = new long[cells.Length];
            for (var i = 0; i < cells.Length; i++)
            {
                if (!long.TryParse(cells[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
                    throw DataErrors.Token(path, lineNumber, i + 1, cells[i]);
            }
            sequences.Add(ids);
        }
        if (sequences.Count == 0) throw DataErrors.Empty(path, "the file has no sequences");
        var length = input?.Fixed(1) is { } fixedLength && input.Dimensions.Length == 2 ? (int)fixedLength : sequences.Max(s => s.Length);
        var values = new long[checked(sequences.Count * length)];
        Array.Fill(values, padId);
        for (var s = 0; s < sequences.Count; s++)
            sequences[s].AsSpan(0, Math.Min(length, sequences[s].Length)).CopyTo(values.AsSpan(s * length, length));
        return new DataTensor(path, [sequences.Count, length], null, values, "token ids");
    }
}
