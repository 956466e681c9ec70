using System.CommandLine;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// The options that say how data files are read (the schema's <see cref="RecipeSchema.Reading"/> settings), shared
/// by <c>compress</c>, <c>eval</c> and <c>bench</c>: they apply to every data input of the command.
/// </summary>
internal sealed class DataReadingOptions
{
    private readonly RecipeOptions options;

    /// <param name="classNames">false for a command whose <c>--labels</c> already means per-sample labels (eval).</param>
    public DataReadingOptions(bool classNames = true) =>
        options = new RecipeOptions(RecipeSchema.Settings.Where(s => s.Stage == RecipeSchema.Reading && (classNames || s.Metadata != nameof(CompressionRecipe.Labels))));

    public void AddTo(Command command) => options.AddTo(command);

    /// <summary>Command-line values override the recipe's.</summary>
    public void ApplyTo(ParseResult parse, CompressionRecipe recipe) => options.ApplyTo(parse, recipe);

    /// <summary>The reading options for <paramref name="modelPath"/> (MB0123 on a bad value).</summary>
    public DataReadOptions For(ParseResult parse, string modelPath, string? classNames = null)
    {
        var recipe = new CompressionRecipe();
        ApplyTo(parse, recipe);
        recipe.Labels ??= classNames;
        return DataReadOptions.FromRecipe(recipe, modelPath);
    }
}
