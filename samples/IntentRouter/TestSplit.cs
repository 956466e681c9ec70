namespace IntentRouter;

/// <summary>
/// The test split as text (Data/test_utterances.tsv: utterance, tab, intent), tokenized by the app's own
/// <see cref="IntentTokenizer"/>. <see cref="Load"/> checks the result against Data/test_x.npy, the ids the build
/// evaluated the model on, so the accuracy printed here is the accuracy of the app's whole path, text included.
/// </summary>
public sealed record TestSplit(string[] Texts, int[] Labels, long[][] TokenIds)
{
    public static TestSplit Load(string tsvPath, string idsNpyPath, IntentTokenizer tokenizer, IReadOnlyList<string> intents)
    {
        var rows = File.ReadLines(tsvPath).Where(l => l.Length > 0).Select(l => l.Split('\t')).ToArray();
        var texts = rows.Select(r => r[0]).ToArray();
        var labels = rows.Select(r => IndexOf(intents, r[1], tsvPath)).ToArray();
        var tokenIds = texts.Select(t => { var ids = new long[IntentTokenizer.SequenceLength]; tokenizer.Encode(t, ids); return ids; }).ToArray();

        var (expected, shape) = Npy.ReadInt64(idsNpyPath);
        if (shape.Length != 2 || shape[0] != texts.Length || shape[1] != IntentTokenizer.SequenceLength)
            throw new InvalidDataException($"{idsNpyPath}: shape [{string.Join(",", shape)}], expected [{texts.Length},{IntentTokenizer.SequenceLength}]");
        for (var row = 0; row < texts.Length; row++)
        {
            if (!expected.AsSpan(row * IntentTokenizer.SequenceLength, IntentTokenizer.SequenceLength).SequenceEqual(tokenIds[row]))
                throw new InvalidDataException($"The tokenizer does not reproduce {Path.GetFileName(idsNpyPath)} row {row}: \"{texts[row]}\"");
        }
        return new TestSplit(texts, labels, tokenIds);
    }

    private static int IndexOf(IReadOnlyList<string> intents, string intent, string path)
    {
        for (var i = 0; i < intents.Count; i++) if (intents[i] == intent) return i;
        throw new InvalidDataException($"{path}: unknown intent '{intent}'");
    }
}

/// <summary>Just enough of NumPy's .npy format for this sample: little-endian int64, C order.</summary>
internal static class Npy
{
    public static (long[] Data, int[] Shape) ReadInt64(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var headerLength = bytes[6] == 1 ? BitConverter.ToUInt16(bytes, 8) : (int)BitConverter.ToUInt32(bytes, 8);
        var headerStart = bytes[6] == 1 ? 10 : 12;
        var header = System.Text.Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        if (!header.Contains("'<i8'")) throw new InvalidDataException($"{path}: expected dtype <i8, header {header}");
        var shapeText = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..];
        var shape = shapeText[..shapeText.IndexOf(')')].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
        var data = new long[(bytes.Length - headerStart - headerLength) / 8];
        Buffer.BlockCopy(bytes, headerStart + headerLength, data, 0, data.Length * 8);
        return (data, shape);
    }
}
