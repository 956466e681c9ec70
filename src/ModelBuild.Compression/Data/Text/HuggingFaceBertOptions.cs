using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace ModelBuild.Text;

/// <summary>
/// Microsoft.ML.Tokenizers' <see cref="BertTokenizer"/> configured to split text as Hugging Face's BERT
/// <c>BasicTokenizer</c> does, so token ids equal those a model was trained on. The WordPiece algorithm, the vocabulary,
/// lower-casing, accent stripping and CJK spacing stay the library's; two settings differ from its defaults:
/// <list type="bullet">
/// <item>The pre-tokenizer: the library's default (<c>\w+|\p{P}</c>) drops every character that is neither a word
/// character nor Unicode punctuation, so <c>$100</c> loses its <c>$</c> and <c>a+b=c</c> its <c>+</c> and <c>=</c>.
/// Hugging Face splits off every ASCII non-alphanumeric character and every Unicode punctuation character as its own
/// token and keeps all other characters (symbols, emoji) inside the word; <see cref="WordsAndPunctuation"/> is that rule
/// as the library's own <see cref="RegexPreTokenizer"/>.</item>
/// <item>Text cleaning: the library's normalizer deletes tab, newline and carriage return (Hugging Face turns them into
/// spaces, so the words on either side stay apart) and keeps format characters such as the zero-width space and the soft
/// hyphen (Hugging Face deletes them). <see cref="HuggingFaceTextCleaning"/> does that step first and hands the
/// text to the library's normalizer.</item>
/// </list>
/// Known remaining differences, outside what the tests check: with accent stripping the library also drops spacing
/// combining marks (category Mc, e.g. Devanagari vowel signs); it recomposes its output (NFC: with accent stripping
/// Hangul syllables stay whole where Hugging Face keeps the decomposed jamo; without it, decomposed input comes out
/// composed); it lower-cases upper-case letters only (not title-case ones).
/// </summary>
/// <remarks>This file is compiled into both the engine and ModelBuild.Runtime (linked, not copied).</remarks>
internal static partial class HuggingFaceBertOptions
{
    /// <summary>The special tokens a BERT vocabulary carries, as Hugging Face names them by default.</summary>
    public const string Unknown = "[UNK]", Separator = "[SEP]", Padding = "[PAD]", Classification = "[CLS]", Masking = "[MASK]";

    /// <summary>
    /// A run of characters that are neither a space nor punctuation (a word, with any symbols or emoji inside it), or
    /// one punctuation character: ASCII 33-47, 58-64, 91-96, 123-126 and Unicode category P*, as in Hugging Face's
    /// <c>_is_punctuation</c>. After cleaning, every character Hugging Face counts as white space is a plain space.
    /// </summary>
    [GeneratedRegex(@"[^ \p{P}!-/:-@\[-`{-~]+|[\p{P}!-/:-@\[-`{-~]", RegexOptions.CultureInvariant)]
    public static partial Regex WordsAndPunctuation();

    /// <summary>
    /// Creates the tokenizer from a WordPiece vocabulary (one token per line, id = line index). <paramref name="stripAccents"/>
    /// null follows <paramref name="lowerCase"/>, as Hugging Face's <c>strip_accents=None</c> does.
    /// </summary>
    public static BertTokenizer CreateTokenizer(byte[] vocabulary, bool lowerCase, bool? stripAccents, bool tokenizeChineseChars,
        string unknown = Unknown, string separator = Separator, string padding = Padding, string classification = Classification,
        string masking = Masking, string continuingSubwordPrefix = "##", int maxInputCharsPerWord = 100)
    {
        BertOptions Options() => new()
        {
            LowerCaseBeforeTokenization = lowerCase,
            RemoveNonSpacingMarks = stripAccents ?? lowerCase,
            IndividuallyTokenizeCjk = tokenizeChineseChars,
            ApplyBasicTokenization = true,
            SplitOnSpecialTokens = true,
            UnknownToken = unknown, SeparatorToken = separator, PaddingToken = padding,
            ClassificationToken = classification, MaskingToken = masking,
            ContinuingSubwordPrefix = continuingSubwordPrefix, MaxInputCharsPerWord = maxInputCharsPerWord,
        };

        // First with the library's defaults: it builds its BERT normalizer (internal) and the special-token table.
        var defaults = BertTokenizer.Create(new MemoryStream(vocabulary, writable: false), Options());
        var library = defaults.Normalizer ?? throw new InvalidOperationException("BertTokenizer built no normalizer with ApplyBasicTokenization.");
        // Special tokens in the text stay whole, found in the normalized (lower-cased) text as Hugging Face finds them.
        var special = (defaults.SpecialTokens ?? new Dictionary<string, int>())
            .GroupBy(p => lowerCase ? p.Key.ToLowerInvariant() : p.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Value, StringComparer.Ordinal);

        var options = Options();
        options.Normalizer = new HuggingFaceTextCleaning(library);
        options.PreTokenizer = new RegexPreTokenizer(WordsAndPunctuation(), special);
        return BertTokenizer.Create(new MemoryStream(vocabulary, writable: false), options);
    }

    /// <summary>
    /// Hugging Face's <c>_clean_text</c> before the library's BERT normalizer: tab, newline and carriage return become
    /// spaces; NUL, U+FFFD, control (Cc) and format (Cf) characters are deleted. Everything else is the library's.
    /// </summary>
    internal sealed class HuggingFaceTextCleaning(Normalizer library) : Normalizer
    {
        public override string Normalize(string original) => library.Normalize(Clean(original.AsSpan()));

        public override string Normalize(ReadOnlySpan<char> original) => library.Normalize(Clean(original));

        static string Clean(ReadOnlySpan<char> text)
        {
            var needed = false;
            foreach (var c in text)
                if (c is '\t' or '\n' or '\r' or '\uFFFD' || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format) { needed = true; break; }
            if (!needed) return text.ToString();
            var clean = new StringBuilder(text.Length);
            foreach (var c in text)
            {
                if (c is '\t' or '\n' or '\r') clean.Append(' ');
                else if (c != '\uFFFD' && char.GetUnicodeCategory(c) is not (System.Globalization.UnicodeCategory.Control or System.Globalization.UnicodeCategory.Format)) clean.Append(c);
            }
            return clean.ToString();
        }
    }
}
