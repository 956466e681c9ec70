using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace ModelBuild.Text;

/// <summary>
/// A tokenizer file read by Microsoft.ML.Tokenizers, and how one text becomes the model's token ids: the tokens,
/// cut to the sequence length, between the classification and separator tokens when the tokenizer has them (as Hugging
/// Face's <c>truncation=True</c> does: the end of a long text is dropped, the special tokens stay).
/// <list type="bullet">
/// <item><c>vocab.txt</c>: WordPiece/BERT, with Hugging Face's splitting (<see cref="HuggingFaceBertOptions"/>);
/// lower-casing, accent stripping, CJK spacing and special tokens from a <c>tokenizer_config.json</c> beside it
/// (without one: lower-cased, as <c>bert-base-uncased</c>).</item>
/// <item><c>tokenizer.json</c> (Hugging Face): a WordPiece model as above (settings from its BertNormalizer and post
/// processor), a Unigram model through the library's SentencePiece reader, a BPE model through its BPE tokenizer.</item>
/// <item><c>.model</c>: a SentencePiece model (BPE or Unigram), with the beginning-of-sentence token.</item>
/// <item><c>.tiktoken</c>: a Tiktoken rank file, split with the cl100k pattern.</item>
/// </list>
/// </summary>
/// <remarks>
/// Compiled into the engine and into ModelBuild.Runtime (a linked file), so building and serving tokenize alike.
/// Errors are <see cref="TokenizerFileException"/>; each side turns them into its own diagnostics.
/// </remarks>
internal sealed class TextTokenizer
{
    TextTokenizer(string path, Tokenizer tokenizer, string kind, int? classificationId, int? separatorId, int paddingId)
    {
        Path = path; Tokenizer = tokenizer; Kind = kind; ClassificationId = classificationId; SeparatorId = separatorId; PaddingId = paddingId;
    }

    /// <summary>Whether this process can decompose text (false under InvariantGlobalization; tests set it to see the error).</summary>
    internal bool NormalizationAvailable { get; set; } = NormalizationWorks;

    public string Path { get; }
    public Tokenizer Tokenizer { get; }
    /// <summary>What was read, for messages and reports: "WordPiece (BERT, lower-cased)", "SentencePiece", ...</summary>
    public string Kind { get; }
    public int? ClassificationId { get; }
    public int? SeparatorId { get; }
    public int PaddingId { get; }

    /// <summary>Tokens the encoding adds around the text's own.</summary>
    public int SpecialCount => (ClassificationId is null ? 0 : 1) + (SeparatorId is null ? 0 : 1);

    /// <summary>The ids of <paramref name="text"/>, with the special tokens, at most <paramref name="maxLength"/> of them.</summary>
    public int[] Encode(string text, int maxLength)
    {
        CheckNormalization(text);
        var ids = Tokenizer is BertTokenizer bert
            ? bert.EncodeToIds(text, addSpecialTokens: false)
            : Tokenizer.EncodeToIds(text);
        var room = Math.Max(0, maxLength - SpecialCount);
        var kept = Math.Min(ids.Count, room);
        var result = new int[kept + SpecialCount];
        var at = 0;
        if (ClassificationId is { } cls) result[at++] = cls;
        for (var i = 0; i < kept; i++) result[at++] = ids[i];
        if (SeparatorId is { } sep) result[at++] = sep;
        return result;
    }

    /// <summary>The number of ids <see cref="Encode"/> returns without a length limit (for the longest-row default).</summary>
    public int Count(string text) => CheckNormalization(text) + (Tokenizer is BertTokenizer bert ? bert.EncodeToIds(text, addSpecialTokens: false).Count : Tokenizer.EncodeToIds(text).Count) + SpecialCount;

    /// <summary>
    /// Accent stripping decomposes text (NFD), which .NET does through ICU; a process with InvariantGlobalization
    /// leaves the text as it is, and accented words would silently become other tokens. Text that is all ASCII is safe.
    /// </summary>
    int CheckNormalization(string text)
    {
        if (Tokenizer is BertTokenizer { RemoveNonSpacingMarks: true } && !NormalizationAvailable && !System.Text.Ascii.IsValid(text))
            throw new UnicodeNormalizationUnavailableException();
        return 0;
    }

    static readonly bool NormalizationWorks = "\u00e9".Normalize(NormalizationForm.FormD).Length == 2;

    /// <summary>Reads <paramref name="path"/> by its name and content (see the class summary).</summary>
    public static TextTokenizer Load(string path)
    {
        if (!File.Exists(path)) throw new TokenizerFileException(path, null, "the file does not exist");
        var name = System.IO.Path.GetFileName(path);
        try
        {
            if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return FromTokenizerJson(path);
            if (name.EndsWith(".model", StringComparison.OrdinalIgnoreCase)) return FromSentencePiece(path);
            if (name.EndsWith(".tiktoken", StringComparison.OrdinalIgnoreCase)) return FromTiktoken(path);
            if (name.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".vocab", StringComparison.OrdinalIgnoreCase)) return FromVocabulary(path);
        }
        catch (TokenizerFileException) { throw; }
        catch (JsonException e) { throw new TokenizerFileException(path, (int?)(e.LineNumber + 1), $"it is not valid JSON ({FirstLine(e.Message)})", e); }
        // The library throws whatever its parser meets (argument, format, key, I/O, protobuf errors): all mean "not readable".
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            throw new TokenizerFileException(path, null, $"Microsoft.ML.Tokenizers cannot read it ({FirstLine(e.Message)})", e);
        }
        throw new TokenizerFileException(path, null, "the file name says no tokenizer form ModelBuild reads");
    }

    static TextTokenizer FromVocabulary(string path)
    {
        var vocabulary = File.ReadAllBytes(path);
        var config = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, "tokenizer_config.json");
        bool lower = true, chinese = true;
        bool? strip = null;
        string unk = HuggingFaceBertOptions.Unknown, sep = HuggingFaceBertOptions.Separator, pad = HuggingFaceBertOptions.Padding,
            cls = HuggingFaceBertOptions.Classification, mask = HuggingFaceBertOptions.Masking;
        var origin = "";
        if (File.Exists(config))
        {
            try
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(config));
                var root = doc.RootElement;
                lower = Bool(root, "do_lower_case") ?? true;
                strip = Bool(root, "strip_accents");
                chinese = Bool(root, "tokenize_chinese_chars") ?? true;
                unk = Token(root, "unk_token") ?? unk; sep = Token(root, "sep_token") ?? sep; pad = Token(root, "pad_token") ?? pad;
                cls = Token(root, "cls_token") ?? cls; mask = Token(root, "mask_token") ?? mask;
                origin = ", settings from tokenizer_config.json";
            }
            catch (JsonException e) { throw new TokenizerFileException(config, (int?)(e.LineNumber + 1), $"it is not valid JSON ({FirstLine(e.Message)})", e); }
        }
        CheckVocabulary(path, vocabulary, [unk, sep, pad, cls, mask]);
        var bert = HuggingFaceBertOptions.CreateTokenizer(vocabulary, lower, strip, chinese, unk, sep, pad, cls, mask);
        return new TextTokenizer(path, bert, $"WordPiece (BERT, {(lower ? "lower-cased" : "cased")}{origin})",
            bert.ClassificationTokenId, bert.SeparatorTokenId, bert.PaddingTokenId);
    }

    /// <summary>Names the line of a vocabulary that cannot be one (blank, duplicated) and a missing special token.</summary>
    static void CheckVocabulary(string path, byte[] vocabulary, string[] special)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var lines = Encoding.UTF8.GetString(vocabulary).Split('\n');
        var count = lines.Length > 0 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;
        if (count == 0) throw new TokenizerFileException(path, null, "the vocabulary is empty");
        for (var i = 0; i < count; i++)
        {
            var token = lines[i].TrimEnd('\r');
            if (token.Length == 0 || token.Trim().Length == 0) throw new TokenizerFileException(path, i + 1, "the line is blank; a WordPiece vocabulary has one token per line (id = line number - 1)");
            if (!seen.TryAdd(token, i + 1)) throw new TokenizerFileException(path, i + 1, $"the token '{token}' is already on line {seen[token]}");
        }
        foreach (var token in special)
            if (!seen.ContainsKey(token)) throw new TokenizerFileException(path, null, $"the special token '{token}' is not in the vocabulary");
    }

    static TextTokenizer FromTokenizerJson(string path)
    {
        var bytes = File.ReadAllBytes(path);
        using var doc = JsonDocument.Parse(bytes);
        var root = doc.RootElement;
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new TokenizerFileException(path, null, "it has no \"model\" object; a Hugging Face tokenizer.json (or tokenizer_config.json beside a vocab.txt) is expected");
        var type = model.TryGetProperty("type", out var t) ? t.GetString() : null;
        var (cls, sep) = SpecialIds(root);
        switch (type)
        {
            case "WordPiece":
            {
                var vocab = model.GetProperty("vocab").EnumerateObject().Select(p => (p.Name, Id: p.Value.GetInt32())).OrderBy(p => p.Id).ToList();
                for (var i = 0; i < vocab.Count; i++)
                    if (vocab[i].Id != i) throw new TokenizerFileException(path, null, $"the WordPiece vocabulary's ids are not 0..{vocab.Count - 1} (id {i} is missing or repeated)");
                var text = Encoding.UTF8.GetBytes(string.Join("\n", vocab.Select(v => v.Name)) + "\n");
                bool lower = true, chinese = true;
                bool? strip = null;
                if (root.TryGetProperty("normalizer", out var n) && n.ValueKind == JsonValueKind.Object)
                {
                    lower = Bool(n, "lowercase") ?? true;
                    strip = Bool(n, "strip_accents");
                    chinese = Bool(n, "handle_chinese_chars") ?? true;
                }
                var unk = model.TryGetProperty("unk_token", out var u) ? u.GetString() ?? "[UNK]" : "[UNK]";
                var prefix = model.TryGetProperty("continuing_subword_prefix", out var cp) ? cp.GetString() ?? "##" : "##";
                var maxChars = model.TryGetProperty("max_input_chars_per_word", out var mc) && mc.ValueKind == JsonValueKind.Number ? mc.GetInt32() : 100;
                var names = vocab.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
                string Pick(string wanted, int? id) => id is { } i && i < vocab.Count ? vocab[i].Name : wanted;
                var padName = root.TryGetProperty("padding", out var pd) && pd.ValueKind == JsonValueKind.Object && pd.TryGetProperty("pad_token", out var pt) ? pt.GetString() ?? "[PAD]" : "[PAD]";
                var bert = HuggingFaceBertOptions.CreateTokenizer(text, lower, strip, chinese, unk, Pick("[SEP]", sep), padName,
                    Pick("[CLS]", cls), names.Contains("[MASK]") ? "[MASK]" : unk, prefix, maxChars);
                return new TextTokenizer(path, bert, $"WordPiece (BERT, {(lower ? "lower-cased" : "cased")}, tokenizer.json)", bert.ClassificationTokenId, bert.SeparatorTokenId, bert.PaddingTokenId);
            }
            case "Unigram":
            {
                var sp = SentencePieceTokenizer.CreateFromTokenizerJson(new MemoryStream(bytes, writable: false), addBeginningOfSentence: false, addEndOfSentence: false);
                return new TextTokenizer(path, sp, "SentencePiece Unigram (tokenizer.json)", cls, sep, PadId(root) ?? 0);
            }
            case "BPE":
            {
                var vocab = model.GetProperty("vocab").EnumerateObject().Select(p => new KeyValuePair<string, int>(p.Name, p.Value.GetInt32())).ToList();
                var merges = model.TryGetProperty("merges", out var m) && m.ValueKind == JsonValueKind.Array
                    ? m.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Array ? string.Join(" ", e.EnumerateArray().Select(x => x.GetString())) : e.GetString()!).ToList()
                    : [];
                var byteLevel = root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object && pre.GetRawText().Contains("\"ByteLevel\"", StringComparison.Ordinal);
                var options = new BpeOptions(vocab)
                {
                    Merges = merges,
                    ByteLevel = byteLevel,
                    UnknownToken = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString() : null,
                    ContinuingSubwordPrefix = model.TryGetProperty("continuing_subword_prefix", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null,
                    EndOfWordSuffix = model.TryGetProperty("end_of_word_suffix", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null,
                };
                return new TextTokenizer(path, BpeTokenizer.Create(options), "BPE (tokenizer.json)", cls, sep, PadId(root) ?? 0);
            }
            default:
                throw new TokenizerFileException(path, null, $"its model type is '{type}'; WordPiece, Unigram and BPE are read");
        }
    }

    static TextTokenizer FromSentencePiece(string path)
    {
        using var stream = File.OpenRead(path);
        var sp = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: true, addEndOfSentence: false);
        var pad = sp.Vocabulary.TryGetValue("<pad>", out var p) ? p : 0;
        return new TextTokenizer(path, sp, "SentencePiece (.model)", null, null, pad);
    }

    static TextTokenizer FromTiktoken(string path)
    {
        var tiktoken = TiktokenTokenizer.Create(path, new RegexPreTokenizer(new System.Text.RegularExpressions.Regex(
            @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"), null), normalizer: null);
        return new TextTokenizer(path, tiktoken, "Tiktoken (cl100k split)", null, null, 0);
    }

    /// <summary>The classification and separator ids of a tokenizer.json's post processor (BERT, RoBERTa or a template).</summary>
    static (int? Cls, int? Sep) SpecialIds(JsonElement root)
    {
        if (!root.TryGetProperty("post_processor", out var post) || post.ValueKind != JsonValueKind.Object) return (null, null);
        static int? Id(JsonElement pair) => pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2 ? pair[1].GetInt32() : null;
        if (post.TryGetProperty("cls", out var cls) && post.TryGetProperty("sep", out var sep)) return (Id(cls), Id(sep));
        if (post.TryGetProperty("single", out var single) && single.ValueKind == JsonValueKind.Array && post.TryGetProperty("special_tokens", out var tokens))
        {
            int? Lookup(JsonElement item) => item.TryGetProperty("SpecialToken", out var s) && tokens.TryGetProperty(s.GetProperty("id").GetString()!, out var entry)
                ? entry.GetProperty("ids")[0].GetInt32() : null;
            var items = single.EnumerateArray().ToList();
            return (items.Count > 0 ? Lookup(items[0]) : null, items.Count > 1 ? Lookup(items[^1]) : null);
        }
        return (null, null);
    }

    static int? PadId(JsonElement root) =>
        root.TryGetProperty("padding", out var p) && p.ValueKind == JsonValueKind.Object && p.TryGetProperty("pad_id", out var id) ? id.GetInt32() : null;

    static bool? Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    /// <summary>A special token in tokenizer_config.json: a string, or an AddedToken object with "content".</summary>
    static string? Token(JsonElement e, string name) => !e.TryGetProperty(name, out var v) ? null : v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Object when v.TryGetProperty("content", out var c) => c.GetString(),
        _ => null,
    };

    static string FirstLine(string message) => message.Split('\n')[0].Trim().TrimEnd('.');
}

/// <summary>Text that needs Unicode normalization in a process without it (see <see cref="TextTokenizer"/>).</summary>
internal sealed class UnicodeNormalizationUnavailableException() : InvalidOperationException(
    "Accent stripping needs Unicode normalization (ICU), which this process lacks: it runs with InvariantGlobalization. Turn InvariantGlobalization off (and install libicu), or give text without accents.");

/// <summary>A tokenizer (or labels) file that cannot be used: the file, the line when known, and why.</summary>
internal sealed class TokenizerFileException(string path, int? line, string detail, Exception? inner = null)
    : Exception($"'{path}'{(line is null ? "" : $" line {line}")}: {detail}.", inner)
{
    public string FilePath { get; } = path;
    public int? Line { get; } = line;
    public string Detail { get; } = detail;
}
