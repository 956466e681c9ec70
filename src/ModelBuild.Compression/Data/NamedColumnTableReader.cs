using System.Globalization;

namespace ModelBuild.Compression.Data;

/// <summary>
/// A CSV/TSV for a model with several inputs: a header row naming one column per model input, each cell a scalar or
/// a fixed-length vector written as numbers separated by spaces (<c>101 2054 2003 102</c>), plus an optional label
/// column. Each column becomes that input's tensor, <c>[rows, length]</c> or the model input's own shape when it has
/// the same element count; integer inputs get whole numbers. Errors name the line and column (MB0111, MB0112, MB0113).
/// </summary>
public static class NamedColumnTableReader
{
    /// <summary>True when the first non-comment line is a header naming every input of <paramref name="inputs"/>.</summary>
    public static bool Handles(string path, IReadOnlyList<ModelInputSignature> inputs)
    {
        if (inputs.Count < 2 || !File.Exists(path)) return false;
        var header = File.ReadLines(path).FirstOrDefault(l => !string.IsNullOrWhiteSpace(l) && !l.TrimStart().StartsWith("//", StringComparison.Ordinal));
        if (header is null) return false;
        var cells = Split(header, Delimiter(path, header));
        return inputs.All(i => cells.Contains(i.Name));
    }

    public static LabeledData Read(string path, IReadOnlyList<ModelInputSignature> inputs, string? labelColumn)
    {
        char? delimiter = null;
        string[]? header = null;
        var values = inputs.Select(_ => new List<double>()).ToArray();
        var lengths = new int?[inputs.Count];
        int[] columns = [];
        int? labelIndex = null;
        var labelCells = new List<(string Cell, int Line)>();
        int rows = 0, lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line) || line.TrimStart().StartsWith("//", StringComparison.Ordinal)) continue;
            delimiter ??= Delimiter(path, line);
            var cells = Split(line, delimiter.Value);
            if (header is null)
            {
                header = cells;
                columns = inputs.Select(i => Array.IndexOf(header, i.Name)).ToArray();
                if (!string.IsNullOrWhiteSpace(labelColumn))
                {
                    var index = Array.FindIndex(header, h => string.Equals(h.TrimStart('#'), labelColumn.Trim().TrimStart('#'), StringComparison.OrdinalIgnoreCase));
                    labelIndex = index >= 0 ? index : throw DataErrors.LabelColumn(path, labelColumn, $"the header has {string.Join(", ", header.Select(h => $"'{h}'"))}");
                }
                continue;
            }
            if (cells.Length != header.Length) throw DataErrors.Ragged(path, lineNumber, cells.Length, header.Length);
            for (var i = 0; i < inputs.Count; i++)
            {
                var parts = cells[columns[i]].Split([' ', ';'], StringSplitOptions.RemoveEmptyEntries);
                lengths[i] ??= parts.Length;
                if (parts.Length != lengths[i])
                    throw DataErrors.Ragged(path, lineNumber, parts.Length, lengths[i]!.Value);
                foreach (var part in parts)
                {
                    if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
                        || (!inputs[i].IsFloat && v != Math.Floor(v)))
                        throw DataErrors.NonNumeric(path, lineNumber, columns[i] + 1, part);
                    values[i].Add(v);
                }
            }
            if (labelIndex is { } li) labelCells.Add((cells[li], lineNumber));
            rows++;
        }
        if (rows == 0) throw DataErrors.Empty(path, "the file has a header but no data rows");
        var tensors = inputs.Select((input, i) =>
        {
            var length = lengths[i]!.Value;
            long[] shape = input.Dimensions.Length > 2 && input.FixedSampleSize == length ? [rows, .. input.Dimensions[1..]]
                : input.Dimensions.Length == 1 && length == 1 ? [rows] : [rows, length];
            var tensor = input.IsFloat
                ? new DataTensor(path, shape, values[i].Select(v => (float)v).ToArray(), null, "float32")
                : new DataTensor(path, shape, null, values[i].Select(v => (long)v).ToArray(), "int64");
            return (input.Name, tensor);
        });
        var set = InputSet.Of(tensors.ToList());
        if (labelIndex is null) return new LabeledData(set, null, null);
        return new LabeledData(set, CsvDataReader.ClassIds(path, labelCells), path);
    }

    static char Delimiter(string path, string line) =>
        path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? ',' : path.EndsWith(".tsv", StringComparison.OrdinalIgnoreCase) || line.Contains('\t') ? '\t' : ',';

    static string[] Split(string line, char delimiter) =>
        line.Split(delimiter).Select(c => c.Trim().Trim('"').Trim()).ToArray();
}
