using System.Globalization;
using System.Text;
using ModelBuild.Text;

namespace ModelBuild.Compression.Data.Text;

/// <summary>
/// Text data: a <c>.tsv</c>/<c>.txt</c> (tab) or <c>.csv</c> (comma, double quotes around a cell that holds commas) file
/// whose first line is a header, one text per line in the text column and, optionally, its class in the label column
/// (an id, or a name: its index in the labels file, or without one the names numbered in ordinal order). The tokenizer
/// fills the model's inputs by their conventional names. The sequence length is <c>--max-length</c>, else the model's
/// fixed one, else the longest text's, at most 512.
/// </summary>
public static class TextFileReader
{
    /// <summary>The length used when neither the option nor the model fixes it and the data is longer.</summary>
    public const int LongestDefaultCap = 512;

    public static bool Handles(string path) =>
        path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Reads <paramref name="path"/> with the tokenizer file <paramref name="tokenizerPath"/>. <paramref name="inputs"/>
    /// (from <see cref="TextModelInputs"/>) decides which tensors are made and the fixed length; null: all three, int64.
    /// </summary>
    public static TokenizedText Read(string path, string tokenizerPath, string? textColumn, string? labelColumn, string? classNamesPath,
        int? maxLength, IReadOnlyList<TextModelInput>? inputs)
    {
        if (!File.Exists(path)) throw DataErrors.Missing(path);
        return Read(path, Load(tokenizerPath), textColumn, labelColumn, classNamesPath, maxLength, inputs);
    }

    internal static TokenizedText Read(string path, TextTokenizer tokenizer, string? textColumn, string? labelColumn, string? classNamesPath,
        int? maxLength, IReadOnlyList<TextModelInput>? inputs)
    {
        if (!File.Exists(path)) throw DataErrors.Missing(path);
        inputs ??= [new("input_ids", "input_ids", false, null), new("attention_mask", "attention_mask", false, null), new("token_type_ids", "token_type_ids", false, null)];
        var fixedLength = inputs.Select(i => i.FixedLength).FirstOrDefault(l => l is not null);
        if (maxLength is { } asked)
        {
            if (asked <= tokenizer.SpecialCount) throw TextDataErrors.MaxLength($"{asked} leaves no room for text besides the {tokenizer.SpecialCount} special tokens");
            if (fixedLength is { } f && asked != f) throw TextDataErrors.MaxLength($"{asked}, but the model's inputs are fixed at {f} tokens");
        }

        var (texts, labelCells) = ReadRows(path, textColumn, labelColumn, classNamesPath is not null);
        var names = classNamesPath is null ? null : ClassNames.Read(classNamesPath);
        var labels = labelCells is null ? null : ClassIds(path, labelCells, names, classNamesPath);

        var encoded = new int[texts.Count][];
        var limit = (int)(maxLength ?? fixedLength ?? LongestDefaultCap);
        for (var i = 0; i < texts.Count; i++) encoded[i] = Encode(tokenizer, texts[i].Text, limit, path, texts[i].Line);
        var length = maxLength ?? (int?)fixedLength ?? Math.Max(1, encoded.Max(e => e.Length));

        var ids = new long[texts.Count * length];
        var mask = new long[ids.Length];
        var types = new long[ids.Length];
        if (tokenizer.PaddingId != 0) Array.Fill(ids, tokenizer.PaddingId);
        for (var r = 0; r < encoded.Length; r++)
            for (var t = 0; t < encoded[r].Length; t++) { ids[r * length + t] = encoded[r][t]; mask[r * length + t] = 1; }
        return new TokenizedText(path, texts.Count, length, ids, mask, types, labels, labels is null ? null : path, inputs, tokenizer.Kind)
        {
            Texts = texts.Select(t => t.Text).ToArray(),
        };
    }

    /// <summary>
    /// What text data becomes for <paramref name="modelPath"/>, for the progress log: "text: WordPiece (BERT, lower-cased)
    /// from vocab.txt fills input_ids, attention_mask, token_type_ids (int64)".
    /// </summary>
    public static string Describe(string tokenizerPath, string modelPath)
    {
        var inputs = TextModelInputs.FromModel(modelPath);
        var types = inputs.All(i => i.IsInt32) ? "int32" : inputs.All(i => !i.IsInt32) ? "int64" : "int32/int64";
        return $"text: {Load(tokenizerPath).Kind} from {Path.GetFileName(tokenizerPath)} fills {string.Join(", ", inputs.Select(i => i.Name))} ({types})";
    }

    /// <summary>Reads a tokenizer file (MB0140 when the library cannot).</summary>
    internal static TextTokenizer Load(string tokenizerPath)
    {
        try { return TextTokenizer.Load(tokenizerPath); }
        catch (TokenizerFileException e) { throw TextDataErrors.Tokenizer(e); }
    }

    static int[] Encode(TextTokenizer tokenizer, string text, int limit, string path, int line)
    {
        try { return tokenizer.Encode(text, limit); }
        catch (UnicodeNormalizationUnavailableException) { throw TextDataErrors.Normalization(path, line, text); }
    }

    static (List<(string Text, int Line)> Texts, List<(string Cell, int Line)>? Labels) ReadRows(string path, string? textColumn, string? labelColumn, bool haveClassNames)
    {
        var delimiter = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? ',' : '\t';
        string[]? header = null;
        int textIndex = -1;
        int? labelIndex = null;
        var texts = new List<(string, int)>();
        var labels = new List<(string, int)>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNumber++;
            if (header is null)
            {
                if (line.Length == 0) continue;
                header = Split(line.TrimStart('\uFEFF'), delimiter);
                labelIndex = labelColumn is null ? null : Column(header, labelColumn) ?? throw DataErrors.LabelColumn(path, labelColumn, $"the header has {string.Join(", ", header.Select(h => $"'{h}'"))}");
                textIndex = TextColumn(path, header, textColumn, labelIndex);
                // A labels file names classes; with two columns the other one holds them.
                if (labelIndex is null && haveClassNames && header.Length == 2) labelIndex = 1 - textIndex;
                continue;
            }
            if (line.Length == 0) continue;
            var cells = Split(line, delimiter);
            if (cells.Length != header.Length) throw DataErrors.Ragged(path, lineNumber, cells.Length, header.Length);
            var text = cells[textIndex];
            if (string.IsNullOrWhiteSpace(text)) throw TextDataErrors.Empty(path, lineNumber);
            texts.Add((text, lineNumber));
            if (labelIndex is { } li) labels.Add((cells[li], lineNumber));
        }
        if (texts.Count == 0) throw DataErrors.Empty(path, header is null ? "the file is empty" : "the file has a header but no rows");
        return (texts, labelIndex is null ? null : labels);
    }

    static int TextColumn(string path, string[] header, string? textColumn, int? labelIndex)
    {
        if (textColumn is not null) return Column(header, textColumn) ?? throw TextDataErrors.Column(path, textColumn, header);
        var others = Enumerable.Range(0, header.Length).Where(i => i != labelIndex).ToList();
        if (others.Count == 1) return others[0];
        return Column(header, "text") ?? throw TextDataErrors.Column(path, null, header);
    }

    /// <summary>A header name (exact, else ignoring case) or a 0-based index.</summary>
    static int? Column(string[] header, string name)
    {
        var exact = Array.IndexOf(header, name);
        if (exact >= 0) return exact;
        var loose = Array.FindIndex(header, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
        if (loose >= 0) return loose;
        return int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < header.Length ? index : null;
    }

    static long[] ClassIds(string path, List<(string Cell, int Line)> cells, IReadOnlyList<string>? names, string? namesPath)
    {
        if (names is not null)
        {
            var index = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => (long)p.i, StringComparer.Ordinal);
            return cells.Select(c => index.TryGetValue(c.Cell, out var id) ? id : throw TextDataErrors.NotListed(path, c.Line, c.Cell, namesPath!, names)).ToArray();
        }
        if (cells.All(c => long.TryParse(c.Cell, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            return cells.Select(c => long.Parse(c.Cell, CultureInfo.InvariantCulture)).ToArray();
        var ordinal = cells.Select(c => c.Cell).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Select((n, i) => (n, i)).ToDictionary(p => p.n, p => (long)p.i, StringComparer.Ordinal);
        return cells.Select(c => ordinal[c.Cell]).ToArray();
    }

    /// <summary>Cells of one line; in a CSV a cell may be quoted ("a, b"), with "" for a quote inside.</summary>
    static string[] Split(string line, char delimiter)
    {
        if (delimiter != ',' || !line.Contains('"')) return line.Split(delimiter).Select(c => c.Trim()).ToArray();
        var cells = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else cell.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == delimiter) { cells.Add(cell.ToString().Trim()); cell.Clear(); }
            else cell.Append(c);
        }
        cells.Add(cell.ToString().Trim());
        return [.. cells];
    }
}
