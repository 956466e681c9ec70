using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Data.Text;

/// <summary>
/// The files besides the data that decide what text data becomes, for cache keys: the tokenizer, the
/// <c>tokenizer_config.json</c> beside a <c>vocab.txt</c> (it decides lower-casing), and the class names file.
/// Always the same three slots, so a file that appears or goes changes the key.
/// </summary>
public static class TextDataFiles
{
    public static string?[] Of(CompressionRecipe recipe) => [recipe.Tokenizer, ConfigBeside(recipe.Tokenizer), recipe.Labels];

    /// <summary>The tokenizer_config.json read with a vocab.txt, when there is one (the content key's rule).</summary>
    public static string? ConfigBeside(string? tokenizer) => ContentKey.TokenizerConfig(tokenizer);
}
