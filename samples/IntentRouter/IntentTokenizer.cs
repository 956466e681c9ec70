using System.Text.Json;

namespace IntentRouter;

/// <summary>
/// The tokenization the model was trained with: <c>text.lower().split()</c>, ids from Models/vocab.json
/// (<c>&lt;pad&gt;</c> = 0, <c>&lt;unk&gt;</c> = 1), right-padded or truncated to 32. Anything else here (another
/// casing rule, other separators) would silently cost accuracy, so <see cref="TestSplit"/> checks it against the
/// ids the build evaluated on.
/// </summary>
public sealed class IntentTokenizer
{
    public const int SequenceLength = 32;
    private const long Padding = 0;
    private const long Unknown = 1;

    private readonly Dictionary<string, long>.AlternateLookup<ReadOnlySpan<char>> ids;

    private IntentTokenizer(Dictionary<string, long> vocabulary) => ids = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();

    public static IntentTokenizer Load(string vocabularyPath)
    {
        var vocabulary = JsonSerializer.Deserialize<Dictionary<string, long>>(File.ReadAllText(vocabularyPath))
            ?? throw new InvalidDataException($"{vocabularyPath}: empty vocabulary");
        return new IntentTokenizer(vocabulary);
    }

    /// <summary>Writes the ids of <paramref name="text"/> into <paramref name="destination"/> (length 32); allocates only for the lower-cased copy.</summary>
    public void Encode(string text, long[] destination)
    {
        // Python's str.lower() and str.split(): invariant lower case, runs of whitespace separate words.
        var lower = text.ToLowerInvariant();
        var count = 0;
        foreach (var range in lower.AsSpan().SplitAny(" \t\n\r\f\v"))
        {
            var word = lower.AsSpan(range);
            if (word.IsEmpty) continue;
            if (count == SequenceLength) break;
            destination[count++] = ids.TryGetValue(word, out var id) ? id : Unknown;
        }
        Array.Fill(destination, Padding, count, SequenceLength - count);
    }
}
