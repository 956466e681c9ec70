using System.CommandLine;
using System.Reflection;
using ModelBuild.Cli.Commands;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// RecipeSchema is the one declaration of the recipe's settings: it covers every CompressionRecipe property, the
/// files derived from it are up to date (MODELBUILD_REGENERATE=1 rewrites them), and `compress` offers exactly its options.
/// </summary>
public class RecipeSchemaTests
{
    [Fact]
    public void Every_recipe_property_but_teacher_and_output_has_one_schema_line()
    {
        var properties = typeof(CompressionRecipe).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.Name).Where(n => n is not nameof(CompressionRecipe.Teacher) and not nameof(CompressionRecipe.Output) and not nameof(CompressionRecipe.Values)).Order().ToList();
        // The older settings have typed properties; the newer ones only their line (their values are in CompressionRecipe.Values).
        var declared = RecipeSchema.Settings.Where(s => s.HasProperty).Select(s => s.Metadata).Order().ToList();
        Assert.Equal(properties, declared);
        Assert.Equal(RecipeSchema.Settings.Count, RecipeSchema.Settings.Select(s => s.Metadata).Distinct().Count());
        Assert.Equal(RecipeSchema.Settings.Count, RecipeSchema.Settings.Select(s => s.Option).Distinct().Count());
        foreach (var setting in RecipeSchema.Settings)
        {
            Assert.True(setting.Kind != SettingKind.Word || setting.Words.Length > 0, $"{setting.Metadata}: a word setting without words");
            Assert.NotNull(setting.ValueType); // the property exists
        }
    }

    [Fact]
    public void The_generated_files_match_the_schema()
    {
        var regenerate = Environment.GetEnvironmentVariable("MODELBUILD_REGENERATE") == "1";
        var stale = new List<string>();
        foreach (var (path, render) in RecipeSchemaFiles.All())
        {
            var full = Path.Combine(TestPaths.RepoRoot, path);
            var current = File.Exists(full) ? File.ReadAllText(full) : "";
            var wanted = render(current);
            if (wanted == current) continue;
            if (regenerate)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.WriteAllText(full, wanted);
            }
            else
            {
                stale.Add(path);
            }
        }
        Assert.True(stale.Count == 0,
            $"Out of date with RecipeSchema: {string.Join(", ", stale)}. Regenerate: MODELBUILD_REGENERATE=1 dotnet test tests/ModelBuild.Cli.Tests -c Release --filter RecipeSchemaTests");
    }

    [Fact]
    public void Compress_offers_one_option_per_setting_with_the_schema_help()
    {
        var compress = CompressCommand.Create();
        foreach (var setting in RecipeSchema.Settings)
        {
            var option = compress.Options.SingleOrDefault(o => o.Name == setting.Option);
            Assert.True(option is not null, $"compress has no {setting.Option}");
            Assert.Equal(RecipeOptions.Description(setting), option!.Description);
        }
    }

    [Fact]
    public void Command_line_values_land_in_the_recipe_typed_by_kind()
    {
        var options = RecipeOptions.All();
        var command = new Command("compress");
        options.AddTo(command);
        var parse = command.Parse("--prune 0.25 --prune-steps 3 --prune-exclude a,b;c --distill --pad-id 7 --image-std 0.5,0.5,0.5 --quantize fp16 --seed 5");
        Assert.Empty(parse.Errors);
        var recipe = new CompressionRecipe();
        options.ApplyTo(parse, recipe);
        Assert.Equal(0.25, recipe.Prune);
        Assert.Equal(3, recipe.PruneSteps);
        Assert.Equal(new[] { "a", "b", "c" }, recipe.PruneExclude!);
        Assert.True(recipe.Distill);
        Assert.Equal(7L, recipe.PadId);
        Assert.Equal(new[] { 0.5, 0.5, 0.5 }, recipe.ImageStd!);
        Assert.Equal("fp16", recipe.Quantize);
        Assert.Equal(5, recipe.Seed);
        Assert.Null(recipe.Epochs);
    }

    [Fact]
    public void Typed_accessors_read_the_value_else_the_schema_default()
    {
        var recipe = new CompressionRecipe();
        Assert.Equal(4, recipe.Number(RecipeSchema.Get("Temperature")));
        Assert.Equal(20, recipe.Integer(RecipeSchema.Get("Epochs")));
        Assert.Equal("none", recipe.Text(RecipeSchema.Get("Quantize")));
        Assert.Null(recipe.Text(RecipeSchema.Get("Student")));
        Assert.Null(recipe.NumberOrNull(RecipeSchema.Get("Prune")));
        Assert.False(recipe.Flag(RecipeSchema.Get("Distill")));
        recipe.Temperature = 0.5;
        recipe.Epochs = 3;
        recipe.PadId = 7;
        Assert.Equal(0.5, recipe.Number(RecipeSchema.Get("Temperature")));
        Assert.Equal(3, recipe.Integer(RecipeSchema.Get("Epochs")));
        Assert.Equal(7, recipe.Integer(RecipeSchema.Get("PadId")));
        Assert.Throws<InvalidOperationException>(() => recipe.Number(RecipeSchema.Get("Prune"))); // no default: NumberOrNull
    }

    [Fact]
    public void A_setting_without_a_property_is_an_option_checked_against_its_range()
    {
        var options = RecipeOptions.All();
        var command = new Command("compress");
        options.AddTo(command);
        var parse = command.Parse("--distill --warmup-fraction 0.25");
        Assert.Empty(parse.Errors);
        var recipe = new CompressionRecipe();
        options.ApplyTo(parse, recipe);
        Assert.Equal(0.25, recipe.Number(RecipeSchema.WarmupFraction));
        Assert.Contains("\"warmupFraction\": 0.25", recipe.ToJson());
        Assert.Contains(command.Parse("--warmup-fraction 1.5").Errors, e => e.Message.Contains("not a number in [0, 1]"));
    }

    [Fact]
    public void Stage_cache_inputs_follow_UsedBy()
    {
        var recipe = new CompressionRecipe { Teacher = "t.onnx", Quantize = "int8-static", Epochs = 3, CalibrationData = "c.npy", TrainingData = "x.npy" };
        var (distill, distillFiles) = RecipeSchema.StageInputs(RecipeSchema.Distill, recipe);
        var (quantize, quantizeFiles) = RecipeSchema.StageInputs(RecipeSchema.Quantize, recipe);
        Assert.Contains("epochs", distill.Keys);
        Assert.DoesNotContain("quantize", distill.Keys);
        Assert.Contains("quantize", quantize.Keys);
        Assert.DoesNotContain("epochs", quantize.Keys);
        Assert.Contains("x.npy", distillFiles);
        Assert.DoesNotContain("c.npy", distillFiles);
        Assert.Contains("c.npy", quantizeFiles);
    }
}
