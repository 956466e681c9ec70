using ModelBuild.Compression.Data.Text;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Tests.Data.Text;

/// <summary>The tokenizer, the tokenizer_config.json beside a vocab.txt and the class names decide the result: the worker's key covers their bytes.</summary>
public class TextCacheKeyTests
{
    private static readonly ToolVersions Versions = ToolVersions.OfThisProcess();

    [Fact]
    public void The_pipeline_key_follows_the_tokenizer_its_config_and_the_class_names_by_content_not_path()
    {
        string Folder(string name)
        {
            var folder = Path.Combine(TestMaterials.TempDir(), name);
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, "teacher.onnx"), [1, 2, 3]);
            File.WriteAllText(Path.Combine(folder, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ncancel\n");
            File.WriteAllText(Path.Combine(folder, "labels.json"), "[\"a\", \"b\"]");
            return folder;
        }
        CompressionRecipe Recipe(string folder) => new()
        {
            Teacher = Path.Combine(folder, "teacher.onnx"), Output = Path.Combine(folder, "out.onnx"), Quantize = "int8-dynamic",
            Tokenizer = Path.Combine(folder, "vocab.txt"), Labels = Path.Combine(folder, "labels.json"), TextColumn = "text",
        };
        var a = Folder("a");
        var key = ContentKey.OfResult(Recipe(a), Versions);
        Assert.Equal(key, ContentKey.OfResult(Recipe(Folder("b")), Versions));

        File.WriteAllText(Path.Combine(a, "tokenizer_config.json"), "{ \"do_lower_case\": false }");
        Assert.Equal(Path.Combine(a, "tokenizer_config.json"), TextDataFiles.Of(Recipe(a))[1]);
        var cased = ContentKey.OfResult(Recipe(a), Versions);
        Assert.NotEqual(key, cased);

        File.WriteAllText(Path.Combine(a, "labels.json"), "[\"b\", \"a\"]");
        var relabeled = ContentKey.OfResult(Recipe(a), Versions);
        Assert.NotEqual(cased, relabeled);

        File.AppendAllText(Path.Combine(a, "vocab.txt"), "meeting\n");
        Assert.NotEqual(relabeled, ContentKey.OfResult(Recipe(a), Versions));
    }
}
