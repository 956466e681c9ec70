using ModelBuild.Compression.Data;
using ModelBuild.Compression.Data.Text;
using ModelBuild.Text;

namespace ModelBuild.Compression.Tests.Data.Text;

/// <summary>
/// The tokenizer path (Microsoft.ML.Tokenizers configured by <see cref="HuggingFaceBertOptions"/>) against Hugging
/// Face's BERT tokenizer: exactly on the intent-bert splits (the .npz files are Hugging Face's output), and on text
/// full of symbols, accents and mixed case, where the expectations are Hugging Face's BasicTokenizer rules applied by
/// hand (every ASCII non-alphanumeric and every Unicode punctuation character is its own token; other symbols stay in
/// the word; lower-casing and accent stripping for an uncased vocabulary; tab/newline are spaces; format characters go).
/// </summary>
public class HuggingFaceBertTokenizationTests
{
    static string Bert(string file) => Path.Combine(TestMaterials.Teacher("intent-bert"), file);

    [Theory]
    [InlineData("train")]
    [InlineData("val")]
    [InlineData("test")]
    public void Every_split_of_intent_bert_tokenizes_to_its_npz_exactly(string split)
    {
        var inputs = TextModelInputs.FromModel(Bert("teacher.onnx"));
        // reference.json: "max 32, pad 0" (the teacher's sequence axis is dynamic, so the length is given).
        var text = TextFileReader.Read(Bert($"{split}.tsv"), Bert("vocab.txt"), "text", "intent", Bert("labels.json"), 32, inputs);
        var expected = NpzArchive.Read(Bert($"{split}.npz"));
        Assert.Equal(3, text.Tensors.Count);
        foreach (var (name, tensor) in text.Tensors)
        {
            Assert.Equal(expected[name].Shape, tensor.Shape);
            var want = expected[name].ToInt64Array();
            var got = tensor.Int64s!;
            var row = Enumerable.Range(0, text.Count).FirstOrDefault(r => !want.AsSpan(r * text.Length, text.Length).SequenceEqual(got.AsSpan(r * text.Length, text.Length)), -1);
            Assert.True(row < 0, $"{split} {name} row {row}: expected [{string.Join(" ", want.Skip(row * text.Length).Take(text.Length))}] got [{string.Join(" ", got.Skip(row * text.Length).Take(text.Length))}]");
        }
        Assert.Equal(NpyArray.Read(Bert($"{split}_y.npy")).ToInt64Array(), text.Labels!);
    }

    /// <summary>Text, and the tokens Hugging Face's uncased BERT tokenizer gives (worked out by its rules, one by one).</summary>
    public static TheoryData<string, string[]> HandCheckedCases => new()
    {
        { "$100", ["$", "100"] },
        { "a+b=c", ["a", "+", "b", "=", "c"] },
        { "50% off!", ["50", "%", "off", "!"] },
        { "e-mail me@home.com", ["e", "-", "mail", "me", "@", "home", ".", "com"] },
        { "x_y^z|w~v`u", ["x", "_", "y", "^", "z", "|", "w", "~", "v", "`", "u"] },
        { "<tag>{a}[b](c)\\d/e", ["<", "tag", ">", "{", "a", "}", "[", "b", "]", "(", "c", ")", "\\", "d", "/", "e"] },
        { "don't \"quote\" #1 & *", ["don", "'", "t", "\"", "quote", "\"", "#", "1", "&", "*"] },
        { "Café NAÏVE Résumé", ["cafe", "naive", "resume"] },
        { "ÉCOLE über Straße", ["ecole", "uber", "straße"] },
        { "iPhone McDonald HeLLo", ["iphone", "mcdonald", "hello"] },
        { "¿Qué? «sí» — ok…", ["¿", "que", "?", "«", "si", "»", "—", "ok", "…"] },
        { "€5 ©2024", ["€", "##5", "©", "##2024"] },
        { "tab\there\nnew\r\nline", ["tab", "here", "new", "line"] },
        { "zero\u200Bwidth soft\u00ADhyphen", ["zerowidth", "softhyphen"] },
        { "中文ok", ["中", "文", "ok"] },
        { "unknownword $", ["[UNK]", "$"] },
        { "hello [SEP] world[MASK]", ["hello", "[SEP]", "world", "[MASK]"] },
    };

    [Theory]
    [MemberData(nameof(HandCheckedCases))]
    public void Symbols_accents_and_mixed_case_split_as_Hugging_Face_splits_them(string text, string[] expected)
    {
        var vocab = HandCheckedVocabulary();
        var tokenizer = TextTokenizer.Load(vocab);
        var ids = tokenizer.Encode(text, 64);
        var names = File.ReadAllLines(vocab);
        Assert.Equal(["[CLS]", .. expected, "[SEP]"], ids.Select(id => names[id]).ToArray());
    }

    [Fact]
    public void A_long_text_is_cut_to_the_length_and_keeps_its_separator()
    {
        var tokenizer = TextTokenizer.Load(HandCheckedVocabulary());
        var names = File.ReadAllLines(HandCheckedVocabulary());
        var ids = tokenizer.Encode("a b c = + $ 100", 5);
        Assert.Equal(["[CLS]", "a", "b", "c", "[SEP]"], ids.Select(id => names[id]).ToArray());
    }

    [Fact]
    public void A_cased_vocabulary_keeps_case_and_accents_when_tokenizer_config_says_so()
    {
        var folder = TestMaterials.TempDir();
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Café", "$", "iPhone", "cafe"]);
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{ "do_lower_case": false, "tokenizer_class": "BertTokenizer" }""");
        var tokenizer = TextTokenizer.Load(Path.Combine(folder, "vocab.txt"));
        Assert.Equal([2, 5, 6, 7, 3], tokenizer.Encode("Café $iPhone", 16));
        Assert.Contains("cased", tokenizer.Kind);
    }

    static string? _vocabulary;

    /// <summary>A vocabulary holding exactly the tokens of the cases (and the special tokens), so any other split misses.</summary>
    static string HandCheckedVocabulary()
    {
        if (_vocabulary is not null) return _vocabulary;
        var tokens = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        foreach (var row in HandCheckedCases)
            foreach (var token in (string[])row[1])
                if (!tokens.Contains(token)) tokens.Add(token);
        tokens.AddRange(["b", "c", "hello", "world"]);
        var path = Path.Combine(TestMaterials.TempDir(), "vocab.txt");
        File.WriteAllLines(path, tokens.Distinct());
        return _vocabulary = path;
    }
}
