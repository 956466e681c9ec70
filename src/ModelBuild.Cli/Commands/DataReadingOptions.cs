using System.CommandLine;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// The options that say how data files are read, shared by <c>compress</c>, <c>eval</c> and <c>bench</c>:
/// they apply to every data input of the command (training, evaluation, calibration).
/// </summary>
internal sealed class DataReadingOptions
{
    public Option<string?> LabelColumn { get; } = new("--label-column") { Description = "CSV/TSV data: the column holding the class (header name or 0-based index); the other columns are features." };
    public Option<string?> ImageScale { get; } = new("--image-scale") { Description = "Image folders: pixel scale before normalization, 0..1 (default) or 0..255." };
    public Option<string?> ImageMean { get; } = new("--image-mean") { Description = "Image folders: per-channel mean to subtract after scaling, e.g. 0.485,0.456,0.406 (1 or 3 values)." };
    public Option<string?> ImageStd { get; } = new("--image-std") { Description = "Image folders: per-channel standard deviation to divide by, e.g. 0.229,0.224,0.225 (1 or 3 values)." };
    public Option<long?> PadId { get; } = new("--pad-id") { Description = "Token-id files: the id shorter sequences are padded with (default 0)." };
    public Option<string?> Tokenizer { get; } = new("--tokenizer") { Description = "Text data (.tsv/.csv/.txt): the tokenizer file, vocab.txt (BERT WordPiece; tokenizer_config.json beside it), tokenizer.json, a SentencePiece .model or a .tiktoken file." };
    public Option<string?> TextColumn { get; } = new("--text-column") { Description = "Text data: the column holding the text (header name or 0-based index); default the one column besides the label, else 'text'." };
    public Option<int?> MaxLength { get; } = new("--max-length") { Description = "Text data: tokens per sequence; default the model's fixed sequence length, else the longest text's, at most 512." };
    /// <summary>Class names; <c>eval</c> has its own <c>--labels</c> (per-sample labels) and passes a .json given there here.</summary>
    public Option<string?>? ClassNames { get; }

    /// <param name="classNames">false for a command whose <c>--labels</c> already means per-sample labels (eval).</param>
    public DataReadingOptions(bool classNames = true)
    {
        if (classNames) ClassNames = new("--labels") { Description = "Class names, index = class id: a JSON list (labels.json) or a Hugging Face config.json with id2label; labels in text files may then be names." };
    }

    public void AddTo(Command command)
    {
        foreach (var o in new Option?[] { LabelColumn, ImageScale, ImageMean, ImageStd, PadId, Tokenizer, TextColumn, MaxLength, ClassNames })
            if (o is not null) command.Options.Add(o);
    }

    /// <summary>Command-line values override the recipe's.</summary>
    public void ApplyTo(ParseResult parse, CompressionRecipe recipe)
    {
        if (parse.GetResult(LabelColumn) is not null) recipe.LabelColumn = parse.GetValue(LabelColumn);
        if (parse.GetResult(ImageScale) is not null) recipe.ImageScale = parse.GetValue(ImageScale);
        if (parse.GetResult(ImageMean) is not null) recipe.ImageMean = DataReadOptions.ParseList("--image-mean", parse.GetValue(ImageMean));
        if (parse.GetResult(ImageStd) is not null) recipe.ImageStd = DataReadOptions.ParseList("--image-std", parse.GetValue(ImageStd));
        if (parse.GetResult(PadId) is not null) recipe.PadId = parse.GetValue(PadId);
        if (parse.GetResult(Tokenizer) is not null) recipe.Tokenizer = parse.GetValue(Tokenizer);
        if (parse.GetResult(TextColumn) is not null) recipe.TextColumn = parse.GetValue(TextColumn);
        if (parse.GetResult(MaxLength) is not null) recipe.MaxLength = parse.GetValue(MaxLength);
        if (ClassNames is not null && parse.GetResult(ClassNames) is not null) recipe.Labels = parse.GetValue(ClassNames);
    }

    /// <summary>The reading options for <paramref name="modelPath"/> (MB0123 on a bad value).</summary>
    public DataReadOptions For(ParseResult parse, string modelPath, string? classNames = null)
    {
        var recipe = new CompressionRecipe();
        ApplyTo(parse, recipe);
        recipe.Labels ??= classNames;
        return DataReadOptions.FromRecipe(recipe, modelPath);
    }
}
