using ModelBuild.Compression.Data.Text;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Text;

namespace ModelBuild.Compression.Tests.Data.Text;

/// <summary>Each text-data error: the code, and the file and line it names.</summary>
public class TextDataErrorTests
{
    static string Bert(string file) => Path.Combine(TestMaterials.Teacher("intent-bert"), file);

    static string Write(string name, params string[] lines)
    {
        var path = Path.Combine(TestMaterials.TempDir(), name);
        File.WriteAllLines(path, lines);
        return path;
    }

    static ModelBuildException Read(string data, string? tokenizer = null, string? labels = null, int? maxLength = null, IReadOnlyList<TextModelInput>? inputs = null) =>
        Assert.Throws<ModelBuildException>(() => TextFileReader.Read(data, tokenizer ?? Bert("vocab.txt"), "text", "intent", labels, maxLength, inputs));

    [Fact]
    public void MB0141_a_label_missing_from_labels_json_names_the_file_and_line()
    {
        var data = Write("intents.tsv", "text\tintent", "cancel my meeting\tmeeting.delete", "book a flight\tflight.book");
        var e = Read(data, labels: Bert("labels.json"));
        Assert.Equal("MB0141", e.Code);
        Assert.Contains("line 3", e.Message);
        Assert.Contains("'flight.book'", e.Message);
        Assert.Contains("labels.json", e.Message);
    }

    [Fact]
    public void MB0142_an_empty_text_names_the_file_and_line()
    {
        var data = Write("intents.tsv", "text\tintent", "cancel my meeting\tmeeting.delete", "  \tmeeting.list");
        var e = Read(data, labels: Bert("labels.json"));
        Assert.Equal("MB0142", e.Code);
        Assert.Contains("intents.tsv' line 3", e.Message);
    }

    [Fact]
    public void MB0140_a_vocabulary_with_a_repeated_token_names_the_line()
    {
        var vocab = Write("vocab.txt", "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cancel", "meeting", "cancel");
        var data = Write("intents.tsv", "text\tintent", "cancel\tmeeting.delete");
        var e = Read(data, tokenizer: vocab);
        Assert.Equal("MB0140", e.Code);
        Assert.Contains("vocab.txt' line 8", e.Message);
        Assert.Contains("line 6", e.Message);
    }

    [Fact]
    public void MB0140_a_tokenizer_json_that_is_not_json_names_the_line_and_a_bad_sentencepiece_model_the_library_refuses()
    {
        var data = Write("intents.tsv", "text\tintent", "cancel\tmeeting.delete");
        var json = Write("tokenizer.json", "{", "  \"model\": { \"type\": \"WordPiece\",", "  oops", "}");
        var e = Read(data, tokenizer: json);
        Assert.Equal("MB0140", e.Code);
        Assert.Contains("tokenizer.json' line 3", e.Message);

        var model = Write("spm.model", "this is not a protobuf SentencePiece model");
        e = Read(data, tokenizer: model);
        Assert.Equal("MB0140", e.Code);
        Assert.Contains("Microsoft.ML.Tokenizers cannot read it", e.Message);
        Assert.Contains("spm.model", e.Message);
    }

    [Fact]
    public void MB0143_a_labels_file_that_is_not_a_list_of_names()
    {
        var data = Write("intents.tsv", "text\tintent", "cancel my meeting\tmeeting.delete");
        Assert.Equal("MB0143", Read(data, labels: Write("labels.json", "{ \"labels\": [\"a\"] }")).Code);
        var e = Read(data, labels: Write("labels.json", "[", "  \"a\",", "  \"b\"", "  \"c\""));
        Assert.Equal("MB0143", e.Code);
        Assert.Contains("line", e.Message);
        Assert.Equal("MB0143", Read(data, labels: Write("config.json", "{ \"id2label\": { \"0\": \"a\", \"2\": \"b\" } }")).Code);
    }

    [Fact]
    public void A_hugging_face_config_json_with_id2label_numbers_the_names()
    {
        var data = Write("intents.tsv", "text\tintent", "cancel my meeting\tdelete", "what is on\tlist");
        var config = Write("config.json", "{ \"architectures\": [\"BertForSequenceClassification\"], \"id2label\": { \"1\": \"delete\", \"0\": \"list\" } }");
        var text = TextFileReader.Read(data, Bert("vocab.txt"), "text", "intent", config, null, null);
        Assert.Equal([1L, 0L], text.Labels!);
    }

    [Fact]
    public void MB0144_a_text_column_missing_from_the_header()
    {
        var data = Write("intents.tsv", "utterance\tintent", "cancel my meeting\tmeeting.delete");
        var e = Read(data, labels: Bert("labels.json"));
        Assert.Equal("MB0144", e.Code);
        Assert.Contains("'utterance'", e.Message);
    }

    [Fact]
    public void MB0145_a_model_whose_input_text_cannot_fill()
    {
        var e = Assert.Throws<ModelBuildException>(() => TextModelInputs.FromModel(TestMaterials.Model("mnist-8")));
        Assert.Equal("MB0145", e.Code);
        Assert.Contains("float", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void MB0146_a_max_length_the_model_does_not_take()
    {
        var data = Write("intents.tsv", "text\tintent", "cancel my meeting\tmeeting.delete");
        var fixed32 = new[] { new TextModelInput("input_ids", "input_ids", false, 32) };
        Assert.Equal("MB0146", Read(data, maxLength: 64, inputs: fixed32).Code);
        Assert.Equal("MB0146", Read(data, maxLength: 2).Code);
    }

    [Fact]
    public void MB0148_accented_text_without_unicode_normalization_is_refused_not_mistokenized()
    {
        var data = Write("intents.tsv", "text\tintent", "cancel my meeting\tmeeting.delete", "annule ma réunion\tmeeting.delete");
        var tokenizer = TextTokenizer.Load(Bert("vocab.txt"));
        tokenizer.NormalizationAvailable = false; // what a process with InvariantGlobalization has
        var e = Assert.Throws<ModelBuildException>(() => TextFileReader.Read(data, tokenizer, "text", "intent", Bert("labels.json"), null, null));
        Assert.Equal("MB0148", e.Code);
        Assert.Contains("line 3", e.Message);
    }
}
