using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Cli.Tests;

/// <summary>docs/recipe.md and docs/recipe.schema.json describe CompressionRecipe exactly, and their examples are valid recipes.</summary>
public class RecipeDocsTests
{
    private static string Docs(string file) => Path.Combine(TestPaths.RepoRoot, "docs", file);

    /// <summary>Every name a recipe file takes: teacher, output and each setting of the schema (typed property or not).</summary>
    private static List<string> RecipeProperties() =>
        new[] { "teacher", "output" }.Concat(RecipeSchema.Settings.Select(s => s.Json)).Order(StringComparer.Ordinal).ToList();

    [Fact]
    public void Every_json_example_in_the_docs_is_a_valid_recipe()
    {
        var examples = 0;
        foreach (var file in new[] { "recipe.md", "getting-started.md" })
        {
            foreach (Match block in Regex.Matches(File.ReadAllText(Docs(file)), "```json\\s*\\n(.*?)```", RegexOptions.Singleline))
            {
                var json = block.Groups[1].Value;
                var recipe = CompressionRecipe.FromJson(json); // rejects an unknown property
                Assert.False(string.IsNullOrEmpty(recipe.Teacher), $"{file}: example without a teacher:\n{json}");
                Assert.False(string.IsNullOrEmpty(recipe.Output), $"{file}: example without an output:\n{json}");
                Assert.Equal(recipe.ToJson(), CompressionRecipe.FromJson(json).ToJson());
                examples++;
            }
        }
        Assert.True(examples >= 3, $"only {examples} JSON examples found");
    }

    [Fact]
    public void The_schema_and_the_reference_table_list_exactly_the_recipe_properties()
    {
        var expected = RecipeProperties();
        var schema = JsonNode.Parse(File.ReadAllText(Docs("recipe.schema.json")))!;
        var inSchema = schema["properties"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal).ToList();
        Assert.True(expected.SequenceEqual(inSchema),
            $"docs/recipe.schema.json is out of date. Missing: {string.Join(", ", expected.Except(inSchema))}; extra: {string.Join(", ", inSchema.Except(expected))}");
        Assert.False(schema["additionalProperties"]!.GetValue<bool>());

        var markdown = File.ReadAllText(Docs("recipe.md"));
        var inTable = Regex.Matches(markdown, @"^\| `([A-Za-z][A-Za-z0-9]*)` \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet();
        var undocumented = expected.Where(p => !inTable.Contains(p)).ToList();
        Assert.True(undocumented.Count == 0, $"docs/recipe.md has no table row for: {string.Join(", ", undocumented)}");
    }

    [Fact]
    public void A_misspelt_property_is_rejected_with_MB0513()
    {
        Assert.Throws<JsonException>(() => CompressionRecipe.FromJson("""{ "teacher": "t.onnx", "maxAcuracyDrop": 1 }"""));
        var dir = Directory.CreateTempSubdirectory("mb-cli-test-").FullName;
        var recipe = Path.Combine(dir, "r.json");
        File.WriteAllText(recipe, $$"""{ "teacher": {{JsonSerializer.Serialize(TestPaths.Wine("teacher.onnx"))}}, "output": "o.onnx", "maxAcuracyDrop": 1 }""");
        var (exit, stdout, _) = CliProcess.Run("compress", "--recipe", recipe);
        Assert.Equal(2, exit);
        Assert.Contains("##modelbuild[error MB0513]", stdout);
        Assert.Contains("maxAcuracyDrop", stdout);
    }
}
