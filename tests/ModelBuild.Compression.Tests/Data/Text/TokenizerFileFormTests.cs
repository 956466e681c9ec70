using System.Text;
using System.Text.Json;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Data.Text;
using ModelBuild.Text;

namespace ModelBuild.Compression.Tests.Data.Text;

/// <summary>The other tokenizer forms the library reads: Hugging Face tokenizer.json (WordPiece, BPE) and Tiktoken rank files.</summary>
public class TokenizerFileFormTests
{
    static string Bert(string file) => Path.Combine(TestMaterials.Teacher("intent-bert"), file);

    [Fact]
    public void A_tokenizer_json_holding_intent_berts_wordpiece_vocabulary_tokenizes_test_tsv_as_vocab_txt_does()
    {
        var vocab = File.ReadAllLines(Bert("vocab.txt"));
        var json = new
        {
            version = "1.0",
            normalizer = new { type = "BertNormalizer", clean_text = true, handle_chinese_chars = true, strip_accents = (bool?)null, lowercase = true },
            pre_tokenizer = new { type = "BertPreTokenizer" },
            post_processor = new { type = "BertProcessing", sep = new object[] { "[SEP]", Array.IndexOf(vocab, "[SEP]") }, cls = new object[] { "[CLS]", Array.IndexOf(vocab, "[CLS]") } },
            model = new { type = "WordPiece", unk_token = "[UNK]", continuing_subword_prefix = "##", max_input_chars_per_word = 100, vocab = vocab.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i) },
        };
        var path = Path.Combine(TestMaterials.TempDir(), "tokenizer.json");
        File.WriteAllText(path, JsonSerializer.Serialize(json));
        var fromJson = TextFileReader.Read(Bert("test.tsv"), path, "text", "intent", Bert("labels.json"), 32, null);
        Assert.Equal(NpzArchive.Read(Bert("test.npz"))["input_ids"].ToInt64Array(), fromJson.InputIds);
        Assert.Contains("tokenizer.json", TextTokenizer.Load(path).Kind);
    }

    [Fact]
    public void A_bpe_tokenizer_json_is_read_by_the_library()
    {
        var json = """
        {
          "model": { "type": "BPE", "vocab": { "c": 0, "a": 1, "t": 2, "ca": 3, "cat": 4, "<unk>": 5 }, "merges": [ "c a", "ca t" ], "unk_token": "<unk>" },
          "pre_tokenizer": { "type": "Whitespace" }
        }
        """;
        var path = Path.Combine(TestMaterials.TempDir(), "tokenizer.json");
        File.WriteAllText(path, json);
        var tokenizer = TextTokenizer.Load(path);
        Assert.Equal([4, 1], tokenizer.Encode("cata", 16));
        Assert.Equal("BPE (tokenizer.json)", tokenizer.Kind);
    }

    [Fact]
    public void A_tiktoken_rank_file_is_read_by_the_library()
    {
        // Byte-level ranks: base64 of the token's bytes and its rank, one per line.
        var tokens = new[] { "h", "i", " ", "hi", " hi" };
        var lines = tokens.Select((t, i) => $"{Convert.ToBase64String(Encoding.UTF8.GetBytes(t))} {i}");
        var path = Path.Combine(TestMaterials.TempDir(), "tiny.tiktoken");
        File.WriteAllLines(path, lines);
        var tokenizer = TextTokenizer.Load(path);
        Assert.Equal([3, 4], tokenizer.Encode("hi hi", 16));
    }

    [Fact]
    public void MB0140_a_tokenizer_json_with_a_model_type_the_reader_does_not_know()
    {
        var path = Path.Combine(TestMaterials.TempDir(), "tokenizer.json");
        File.WriteAllText(path, """{ "model": { "type": "WordLevel", "vocab": {} } }""");
        var data = Path.Combine(TestMaterials.TempDir(), "x.tsv");
        File.WriteAllLines(data, ["text", "hello"]);
        var e = Assert.Throws<ModelBuild.Onnx.Diagnostics.ModelBuildException>(() => TextFileReader.Read(data, path, null, null, null, null, null));
        Assert.Equal("MB0140", e.Code);
        Assert.Contains("WordLevel", e.Message);
    }
}
