using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Tasks.Cache;

namespace ModelBuild.Tasks.Tests;

public sealed class CacheKeyTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("mb-key-").FullName;
    private static readonly ToolVersions Versions = new("0.1.0", "1.31.1", "0.107.0");

    public void Dispose() => Directory.Delete(root, recursive: true);

    private CompressionRecipe Recipe(string folder, byte[] teacher, byte[] calibration)
    {
        Directory.CreateDirectory(Path.Combine(root, folder));
        var t = Path.Combine(root, folder, "teacher.onnx");
        var c = Path.Combine(root, folder, "calib.npy");
        File.WriteAllBytes(t, teacher);
        File.WriteAllBytes(c, calibration);
        return new CompressionRecipe { Teacher = t, CalibrationData = c, Quantize = "int8-static", Output = Path.Combine(root, folder, "out.onnx") };
    }

    [Fact]
    public void Same_bytes_in_another_folder_give_the_same_key()
    {
        var a = Recipe("a", [1, 2, 3], [9, 9]);
        var b = Recipe("b/deeper", [1, 2, 3], [9, 9]);
        Assert.Equal(ContentKey.OfResult(a, Versions), ContentKey.OfResult(b, Versions));
    }

    [Fact]
    public void One_changed_byte_of_a_data_file_changes_the_key()
    {
        Assert.NotEqual(ContentKey.OfResult(Recipe("a", [1, 2, 3], [9, 9]), Versions), ContentKey.OfResult(Recipe("b", [1, 2, 3], [9, 8]), Versions));
    }

    [Fact]
    public void Options_and_versions_are_part_of_the_key()
    {
        var recipe = Recipe("a", [1, 2, 3], [9, 9]);
        var key = ContentKey.OfResult(recipe, Versions);
        Assert.NotEqual(key, ContentKey.OfResult(recipe, Versions with { OnnxRuntime = "1.32.0" }));
        Assert.NotEqual(key, ContentKey.OfResult(recipe, Versions with { TorchSharp = "0.108.0" }));
        Assert.NotEqual(key, ContentKey.OfResult(recipe, Versions with { ModelBuild = "0.2.0" }));
        recipe.CalibrationMethod = "entropy";
        Assert.NotEqual(key, ContentKey.OfResult(recipe, Versions));
    }

    [Fact]
    public void Every_file_and_data_setting_of_the_schema_is_keyed_by_content_not_path()
    {
        // The key's file list comes from RecipeSchema: a new File/Data line is covered without an edit in ContentKey.
        foreach (var setting in RecipeSchema.Files)
        {
            string KeyWith(string folder, byte[] bytes)
            {
                var recipe = Recipe(folder, [1, 2, 3], [9, 9]);
                var file = Path.Combine(root, folder, setting.Json + ".bin");
                File.WriteAllBytes(file, bytes);
                setting.Set(recipe, file);
                Assert.Contains(file, ContentKey.InputFiles(recipe));
                return ContentKey.OfResult(recipe, Versions);
            }
            var key = KeyWith(setting.Json + "-a", [4, 5]);
            Assert.Equal(key, KeyWith(setting.Json + "-b/deeper", [4, 5]));
            Assert.NotEqual(key, KeyWith(setting.Json + "-c", [4, 6]));
        }
    }

    [Fact]
    public void The_tokenizer_its_config_beside_it_and_the_class_names_are_part_of_the_key_by_content()
    {
        var recipe = Recipe("a", [1, 2, 3], [9, 9]);
        var vocab = Path.Combine(root, "a", "vocab.txt");
        var labels = Path.Combine(root, "a", "labels.json");
        File.WriteAllText(vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ncancel\n");
        File.WriteAllText(labels, "[\"a\", \"b\"]");
        recipe.Tokenizer = vocab;
        recipe.Labels = labels;
        var key = ContentKey.OfResult(recipe, Versions);
        Assert.Contains(vocab, ContentKey.InputFiles(recipe));
        Assert.Contains(labels, ContentKey.InputFiles(recipe));

        File.WriteAllText(vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nmeeting\n");
        var edited = ContentKey.OfResult(recipe, Versions);
        Assert.NotEqual(key, edited);

        File.WriteAllText(labels, "[\"b\", \"a\"]"); // reordered classes are other class ids
        var relabeled = ContentKey.OfResult(recipe, Versions);
        Assert.NotEqual(edited, relabeled);

        var config = Path.Combine(root, "a", "tokenizer_config.json");
        File.WriteAllText(config, "{ \"do_lower_case\": false }"); // appears beside vocab.txt: cased now
        Assert.NotEqual(relabeled, ContentKey.OfResult(recipe, Versions));
        Assert.Contains(config, ContentKey.InputFiles(recipe));

        var withConfig = ContentKey.OfResult(recipe, Versions);
        recipe.MaxLength = 16;
        Assert.NotEqual(withConfig, ContentKey.OfResult(recipe, Versions));
    }

    [Fact]
    public void Touching_changes_the_fingerprint_but_not_the_key()
    {
        var recipe = Recipe("a", [1, 2, 3], [9, 9]);
        var key = ContentKey.OfResult(recipe, Versions);
        var fingerprint = ContentKey.Fingerprint(recipe, Versions);
        File.SetLastWriteTimeUtc(recipe.CalibrationData!, DateTime.UtcNow.AddMinutes(1));
        Assert.NotEqual(fingerprint, ContentKey.Fingerprint(recipe, Versions));
        Assert.Equal(key, ContentKey.OfResult(recipe, Versions));
    }

    [Fact]
    public void An_image_folder_is_keyed_by_its_files_and_listed_file_by_file_in_the_fingerprint()
    {
        var recipe = Recipe("a", [1, 2, 3], [9, 9]);
        var images = Path.Combine(root, "a", "images");
        Directory.CreateDirectory(Path.Combine(images, "cat"));
        File.WriteAllBytes(Path.Combine(images, "cat", "1.png"), [1]);
        recipe.EvaluationData = images;
        var key = ContentKey.OfResult(recipe, Versions);
        var fingerprint = ContentKey.Fingerprint(recipe, Versions);
        File.WriteAllBytes(Path.Combine(images, "cat", "1.png"), [2]);
        Assert.NotEqual(fingerprint, ContentKey.Fingerprint(recipe, Versions));
        var edited = ContentKey.OfResult(recipe, Versions);
        Assert.NotEqual(key, edited);
        Directory.Move(Path.Combine(images, "cat"), Path.Combine(images, "dog")); // a renamed class is another label
        Assert.NotEqual(edited, ContentKey.OfResult(recipe, Versions));
        recipe.LabelColumn = "3"; // reading options are part of the key too
        Assert.NotEqual(ContentKey.OfResult(recipe, Versions), ContentKey.OfResult(new CompressionRecipe
        {
            Teacher = recipe.Teacher, CalibrationData = recipe.CalibrationData, Quantize = recipe.Quantize, Output = recipe.Output, EvaluationData = images,
        }, Versions));
    }
}
