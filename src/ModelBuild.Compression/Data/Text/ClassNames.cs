using System.Text.Json;

namespace ModelBuild.Compression.Data.Text;

/// <summary>
/// Class names, index = class id: a JSON list of names (<c>labels.json</c>), or a Hugging Face <c>config.json</c> whose
/// <c>id2label</c> maps "0".."K-1" to names. Lets data files carry labels as names (MB0143 when the file is neither).
/// </summary>
public static class ClassNames
{
    public static IReadOnlyList<string> Read(string path)
    {
        if (!File.Exists(path)) throw DataErrors.Missing(path);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw TextDataErrors.LabelsFile(path, (int?)(e.LineNumber + 1), $"it is not valid JSON ({e.Message.Split('\n')[0].TrimEnd('.')})", e); }
        using (doc)
        {
            var root = doc.RootElement;
            List<string> names;
            if (root.ValueKind == JsonValueKind.Array)
            {
                names = [];
                var index = 0;
                foreach (var item in root.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(item.GetString()))
                        throw TextDataErrors.LabelsFile(path, null, $"entry {index} is {item.GetRawText()}, not a class name");
                    names.Add(item.GetString()!);
                    index++;
                }
            }
            else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("id2label", out var map) && map.ValueKind == JsonValueKind.Object)
            {
                var byId = new SortedDictionary<int, string>();
                foreach (var p in map.EnumerateObject())
                {
                    if (!int.TryParse(p.Name, out var id) || id < 0 || p.Value.ValueKind != JsonValueKind.String)
                        throw TextDataErrors.LabelsFile(path, null, $"id2label has \"{p.Name}\": {p.Value.GetRawText()}; keys are class ids \"0\".. and values names");
                    byId[id] = p.Value.GetString()!;
                }
                if (byId.Count > 0 && byId.Keys.Last() != byId.Count - 1)
                    throw TextDataErrors.LabelsFile(path, null, $"id2label's ids are not 0..{byId.Count - 1}");
                names = [.. byId.Values];
            }
            else throw TextDataErrors.LabelsFile(path, null, "it is neither a JSON list of names nor an object with id2label");
            if (names.Count == 0) throw TextDataErrors.LabelsFile(path, null, "it lists no classes");
            var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null) throw TextDataErrors.LabelsFile(path, null, $"the name '{duplicate.Key}' is listed twice");
            return names;
        }
    }
}
