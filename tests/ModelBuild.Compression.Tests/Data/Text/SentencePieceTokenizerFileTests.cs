using System.Text.Json;
using Microsoft.ML.Tokenizers;
using ModelBuild.Compression.Data.Text;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Text;
using static ModelBuild.Compression.Tests.Data.Text.SentencePieceModelFile;

namespace ModelBuild.Compression.Tests.Data.Text;

/// <summary>
/// SentencePiece through the text reader: a <c>.model</c> (Unigram and BPE) and a Hugging Face <c>tokenizer.json</c> with
/// a Unigram model give the token ids Microsoft.ML.Tokenizers gives for the same text, padded with the model's
/// <c>&lt;pad&gt;</c> under a zero attention mask; a damaged or unsupported <c>.model</c> is MB0140.
/// </summary>
public class SentencePieceTokenizerFileTests
{
    // Ids 4.. after <unk> 0, <s> 1, </s> 2, <pad> 3. Whole words score above their parts, so Unigram's best path keeps
    // "▁cancel" whole and splits "meetings" as "▁meeting" + "s" (not "▁meet" + "ing" + "s").
    static readonly (string, float)[] UnigramPieces =
    [
        ("▁", -2), ("▁cancel", -3), ("▁can", -4), ("cel", -4.5f), ("▁my", -3), ("▁meeting", -3.5f), ("▁meet", -4), ("ing", -4),
        ("▁book", -3.5f), ("s", -5),
        ("c", -9), ("a", -9), ("n", -9), ("e", -9), ("l", -9), ("m", -9), ("y", -9), ("t", -9), ("i", -9), ("g", -9), ("b", -9), ("o", -9), ("k", -9),
    ];

    const int Cancel = 5, My = 8, Meeting = 9, Book = 12, S = 13, Bos = 1, Eos = 2, Pad = 3;

    // BPE merges the pair whose joined piece scores highest: "an", then "▁c", "▁can", "el", "cel", "▁cancel"; "▁cel" is
    // not a piece, so "can cel" stays "▁can" "▁c" "el".
    static readonly (string, float)[] BpePieces =
    [
        ("an", -1), ("▁c", -2), ("▁can", -3), ("el", -4), ("cel", -5), ("▁cancel", -6), ("▁m", -7), ("▁my", -8),
        ("▁", -20), ("c", -20), ("a", -20), ("n", -20), ("e", -20), ("l", -20), ("m", -20), ("y", -20),
    ];

    static readonly string[] Texts = ["cancel my meeting", "book meetings", "cancel", "book my Meeting, zz!"];

    static string WriteText(string dir, params string[] texts)
    {
        var path = Path.Combine(dir, "texts.tsv");
        File.WriteAllLines(path, ["text", .. texts]);
        return path;
    }

    static string WriteModel(string dir, byte[] bytes)
    {
        var path = Path.Combine(dir, "spm.model");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static long[] Row(long[] values, int row, int length) => values.AsSpan(row * length, length).ToArray();

    /// <summary>The library's own ids for each text, with the beginning-of-sentence token (as the .model form reads).</summary>
    static int[][] LibraryIds(byte[] model, string[] texts)
    {
        var tokenizer = SentencePieceTokenizer.Create(new MemoryStream(model), addBeginningOfSentence: true, addEndOfSentence: false);
        return texts.Select(t => tokenizer.EncodeToIds(t).ToArray()).ToArray();
    }

    static void AssertFilledAsTheLibrary(TokenizedText read, int[][] expected, int padId)
    {
        Assert.Equal(expected.Length, read.Count);
        Assert.Equal(expected.Max(e => e.Length), read.Length);
        for (var r = 0; r < expected.Length; r++)
        {
            var padding = read.Length - expected[r].Length;
            Assert.Equal([.. expected[r].Select(i => (long)i), .. Enumerable.Repeat((long)padId, padding)], Row(read.InputIds, r, read.Length));
            Assert.Equal([.. Enumerable.Repeat(1L, expected[r].Length), .. Enumerable.Repeat(0L, padding)], Row(read.AttentionMask, r, read.Length));
            Assert.All(Row(read.TokenTypeIds, r, read.Length), t => Assert.Equal(0L, t));
        }
    }

    [Fact]
    public void A_unigram_model_file_fills_input_ids_and_attention_mask_with_the_librarys_ids()
    {
        var dir = TestMaterials.TempDir();
        var bytes = Create(ModelType.Unigram, UnigramPieces);
        var read = TextFileReader.Read(WriteText(dir, Texts), WriteModel(dir, bytes), "text", null, null, null, null);

        var library = LibraryIds(bytes, Texts);
        AssertFilledAsTheLibrary(read, library, Pad);
        // Unigram's best segmentation, by hand: whole words where they score better than their parts.
        Assert.Equal([Bos, Cancel, My, Meeting], library[0]);
        Assert.Equal([Bos, Book, Meeting, S], library[1]);
        Assert.Equal([Bos, Cancel], library[2]);
        Assert.Contains(0, library[3]); // "M", ",", "z", "!" are not pieces: <unk>
        Assert.Equal("SentencePiece (.model)", read.TokenizerKind);
    }

    [Fact]
    public void A_bpe_model_file_gives_the_librarys_merges_and_cuts_long_texts_at_max_length()
    {
        var dir = TestMaterials.TempDir();
        var bytes = Create(ModelType.Bpe, BpePieces);
        string[] texts = ["cancel my", "can cel", "cancel cancel cancel cancel"];
        var read = TextFileReader.Read(WriteText(dir, texts), WriteModel(dir, bytes), "text", null, null, 4, null);

        var library = LibraryIds(bytes, texts);
        var piece = BpePieces.Select((p, i) => (p.Item1, Id: i + 4)).ToDictionary(p => p.Item1, p => p.Id);
        Assert.Equal([Bos, piece["▁cancel"], piece["▁my"]], library[0]);
        Assert.Equal([Bos, piece["▁can"], piece["▁c"], piece["el"]], library[1]);
        // At most 4 ids: the beginning of the text is kept (truncation=True), the <s> stays first.
        AssertFilledAsTheLibrary(read, [.. library.Select(ids => ids.Take(4).ToArray())], Pad);
        Assert.Equal(5, library[2].Length);
    }

    [Fact]
    public void A_unigram_tokenizer_json_gives_the_model_files_ids_between_its_template_tokens()
    {
        var dir = TestMaterials.TempDir();
        object Special(string name, int id) => new { id = name, ids = new[] { id }, tokens = new[] { name } };
        var json = new
        {
            version = "1.0",
            added_tokens = new object[]
            {
                new { id = 0, content = "<unk>", special = true }, new { id = 1, content = "<s>", special = true },
                new { id = 2, content = "</s>", special = true }, new { id = 3, content = "<pad>", special = true },
            },
            padding = new { pad_id = Pad, pad_token = "<pad>" },
            pre_tokenizer = new { type = "Metaspace", replacement = "▁", prepend_scheme = "always", split = true },
            post_processor = new
            {
                type = "TemplateProcessing",
                single = new object[] { new { SpecialToken = new { id = "<s>", type_id = 0 } }, new { Sequence = new { id = "A", type_id = 0 } }, new { SpecialToken = new { id = "</s>", type_id = 0 } } },
                special_tokens = new Dictionary<string, object> { ["<s>"] = Special("<s>", Bos), ["</s>"] = Special("</s>", Eos) },
            },
            model = new
            {
                type = "Unigram",
                unk_id = 0,
                byte_fallback = false,
                vocab = new[] { "<unk>", "<s>", "</s>", "<pad>" }.Select(s => new object[] { s, 0.0 }).Concat(UnigramPieces.Select(p => new object[] { p.Item1, p.Item2 })).ToArray(),
            },
        };
        var path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, JsonSerializer.Serialize(json));
        var read = TextFileReader.Read(WriteText(dir, Texts), path, "text", null, null, null, null);

        using var stream = File.OpenRead(path);
        var library = SentencePieceTokenizer.CreateFromTokenizerJson(stream, addBeginningOfSentence: true, addEndOfSentence: true);
        var expected = Texts.Select(t => library.EncodeToIds(t).ToArray()).ToArray();
        AssertFilledAsTheLibrary(read, expected, Pad);
        // The same pieces as the .model: the same segmentation, with the template's </s> after it.
        var fromModel = LibraryIds(Create(ModelType.Unigram, UnigramPieces), Texts);
        Assert.Equal([.. fromModel.Select(ids => ids.Append(Eos).ToArray())], expected);
        Assert.Equal("SentencePiece Unigram (tokenizer.json)", read.TokenizerKind);
    }

    [Fact]
    public void MB0140_a_cut_off_model_file_and_a_model_type_the_library_does_not_read()
    {
        var dir = TestMaterials.TempDir();
        var text = WriteText(dir, Texts);
        var whole = Create(ModelType.Unigram, UnigramPieces);
        // Cut inside a piece's length-delimited message: the protobuf ends early.
        var cut = Path.Combine(dir, "cut.model");
        File.WriteAllBytes(cut, whole.AsSpan(0, 40).ToArray());
        var e = Assert.Throws<ModelBuildException>(() => TextFileReader.Read(text, cut, "text", null, null, null, null));
        Assert.Equal("MB0140", e.Code);
        Assert.Contains("cut.model", e.Message);
        Assert.Contains("Microsoft.ML.Tokenizers cannot read it", e.Message);

        var word = Path.Combine(dir, "word.model");
        File.WriteAllBytes(word, Create(ModelType.Word, UnigramPieces));
        e = Assert.Throws<ModelBuildException>(() => TextFileReader.Read(text, word, "text", null, null, null, null));
        Assert.Equal("MB0140", e.Code);
        Assert.Contains("word.model", e.Message);
    }
}
