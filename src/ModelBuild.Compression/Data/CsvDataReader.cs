using System.Globalization;

namespace ModelBuild.Compression.Data;

/// <summary>
/// Delimited numeric tables: <c>.csv</c> (comma), <c>.tsv</c> (tab), <c>.txt</c> and UCI's <c>.data</c> (tab, else
/// comma, else whitespace, decided on the first row). The header row is optional: a first row in which no cell is a number is the header.
/// Lines starting with <c>//</c> (ML.NET's comment convention, as in breast-cancer.txt) and blank lines are skipped.
/// Numbers use the invariant culture; <c>NaN</c> is read (and rejected later by the finite-value check where it
/// matters) but any other non-numeric feature cell is MB0111, naming the line and column.
/// The label column (header name or 0-based index) becomes class ids: integers as they are, or class names numbered
/// in ordinal order (as the image-folder reader numbers its subfolders).
/// </summary>
/// <remarks>
/// Hand-written rather than TextFieldParser: that parser does not say which physical line the row it returned came
/// from, and an error here must name the line. Cells are numbers, so quoting is limited to a pair around a cell.
/// </remarks>
public static class CsvDataReader
{
    public static bool Handles(string path) =>
        path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".data", StringComparison.OrdinalIgnoreCase);

    public static LabeledData Read(string path, string? labelColumn)
    {
        if (!File.Exists(path)) throw DataErrors.Missing(path);
        string[]? header = null;
        int? labelIndex = null;
        char? delimiter = path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? ',' : path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) ? '\t' : null;
        var features = new List<float>();
        var labelCells = new List<(string Cell, int Line)>();
        int columns = -1, rows = 0, lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line) || line.TrimStart().StartsWith("//", StringComparison.Ordinal)) continue;
            delimiter ??= line.Contains('\t') ? '\t' : line.Contains(',') ? ',' : ' ';
            var cells = Split(line, delimiter.Value);
            if (columns < 0)
            {
                columns = cells.Length;
                if (cells.All(c => !IsNumber(c)))
                {
                    header = cells;
                    labelIndex = ResolveLabel(path, labelColumn, header, columns);
                    continue;
                }
                labelIndex = ResolveLabel(path, labelColumn, null, columns);
            }
            if (cells.Length != columns) throw DataErrors.Ragged(path, lineNumber, cells.Length, columns);
            for (var c = 0; c < cells.Length; c++)
            {
                if (c == labelIndex) { labelCells.Add((cells[c], lineNumber)); continue; }
                if (!float.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                    throw DataErrors.NonNumeric(path, lineNumber, c + 1, cells[c]);
                features.Add(value);
            }
            rows++;
        }
        if (rows == 0) throw DataErrors.Empty(path, header is null ? "the file has no data rows" : "the file has a header but no data rows");
        var width = columns - (labelIndex is null ? 0 : 1);
        if (width == 0) throw DataErrors.Empty(path, "no feature columns are left besides the label column");
        var inputs = new DataTensor(path, [rows, width], features.ToArray(), null, "float32");
        return new LabeledData(inputs, labelIndex is null ? null : ClassIds(path, labelCells), labelIndex is null ? null : path);
    }

    /// <summary>Labels from a one-column text file (one class id per line).</summary>
    public static long[] ReadLabelColumn(string path)
    {
        if (!File.Exists(path)) throw DataErrors.Missing(path);
        var cells = new List<(string Cell, int Line)>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            var cell = line.Trim().Trim('"');
            if (cell.Length == 0 || cell.StartsWith("//", StringComparison.Ordinal)) continue;
            if (cell.IndexOfAny([',', '\t', ' ']) >= 0) throw DataErrors.LabelValue(path, $"line {lineNumber} has several cells; a labels file has one class per line");
            cells.Add((cell, lineNumber));
        }
        // A name over numeric ids is a header ("label"); names all the way down are class names.
        if (cells.Count > 1 && !IsNumber(cells[0].Cell) && cells.Skip(1).All(c => IsNumber(c.Cell))) cells.RemoveAt(0);
        if (cells.Count == 0) throw DataErrors.Empty(path, "the labels file has no labels");
        return ClassIds(path, cells);
    }

    static string[] Split(string line, char delimiter)
    {
        var cells = delimiter == ' '
            ? line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
            : line.Split(delimiter);
        for (var i = 0; i < cells.Length; i++)
        {
            var cell = cells[i].Trim();
            if (cell.Length >= 2 && cell[0] == '"' && cell[^1] == '"') cell = cell[1..^1].Trim();
            cells[i] = cell;
        }
        return cells;
    }

    static bool IsNumber(string cell) => double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    static int? ResolveLabel(string path, string? labelColumn, string[]? header, int columns)
    {
        if (string.IsNullOrWhiteSpace(labelColumn)) return null;
        var name = labelColumn.Trim();
        if (header is not null)
        {
            // ML.NET's TSVs start the header with '#' (iris.txt: "#Label"), so "Label" finds it too.
            var exact = Array.IndexOf(header, name);
            if (exact >= 0) return exact;
            var loose = Array.FindIndex(header, h => string.Equals(h.TrimStart('#').Trim(), name.TrimStart('#'), StringComparison.OrdinalIgnoreCase));
            if (loose >= 0) return loose;
        }
        if (int.TryParse(name, NumberStyles.Integer, CultureInfo.InvariantCulture, out var index))
        {
            if (index >= 0 && index < columns) return index;
            throw DataErrors.LabelColumn(path, name, $"the file has {columns} columns (indexes 0..{columns - 1})");
        }
        throw DataErrors.LabelColumn(path, name, header is null
            ? "the file has no header row, so columns can only be named by 0-based index"
            : $"the header has {string.Join(", ", header.Select(h => $"'{h}'"))}");
    }

    /// <summary>Integer cells are class ids; otherwise every distinct cell is a class name, numbered in ordinal order.</summary>
    internal static long[] ClassIds(string path, List<(string Cell, int Line)> cells)
    {
        var ids = new long[cells.Count];
        var allNumeric = true;
        for (var i = 0; i < cells.Count && allNumeric; i++)
        {
            if (!double.TryParse(cells[i].Cell, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) { allNumeric = false; break; }
            if (v != Math.Floor(v) || v < 0 || v > int.MaxValue)
                throw DataErrors.LabelValue(path, $"line {cells[i].Line} has label '{cells[i].Cell}', not a non-negative whole number");
            ids[i] = (long)v;
        }
        if (allNumeric) return ids;
        var names = cells.Select(c => c.Cell).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var index = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => (long)p.i, StringComparer.Ordinal);
        return cells.Select(c => index[c.Cell]).ToArray();
    }
}
