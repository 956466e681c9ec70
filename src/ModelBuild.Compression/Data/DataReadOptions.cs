using System.Globalization;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Data;

/// <summary>How pixels become numbers: raw 0..255 (as mnist-8 takes them) or 0..1 (torchvision's ToTensor).</summary>
public enum PixelScale { Unit, Byte }

/// <summary>
/// The options that decide how a data file becomes a tensor. One set per recipe: training, evaluation and calibration
/// data of one model are read the same way. The model, when given, supplies what the file cannot (image H x W and
/// channels, token sequence length, float or integer input).
/// </summary>
public sealed class DataReadOptions
{
    private Lazy<ModelInputSignature?> _input = new(() => null);
    private Lazy<IReadOnlyList<ModelInputSignature>> _inputs = new(() => []);

    /// <summary>CSV/TSV: the column holding the class (header name or 0-based index); null: no label column.</summary>
    public string? LabelColumn { get; init; }
    public PixelScale PixelScale { get; init; } = PixelScale.Unit;
    /// <summary>Per-channel mean subtracted after scaling (one value, or one per channel).</summary>
    public float[]? ImageMean { get; init; }
    /// <summary>Per-channel standard deviation divided by after the mean.</summary>
    public float[]? ImageStd { get; init; }
    /// <summary>Token-id files: the id shorter sequences are padded with.</summary>
    public long PadId { get; init; }
    /// <summary>The tokenizer file text data (.tsv/.csv/.txt) is read with; null: those files are numeric tables.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Text data: the column holding the text (header name or 0-based index).</summary>
    public string? TextColumn { get; init; }
    /// <summary>Text data: tokens per sequence; null: the model's fixed length, else the longest text's (at most 512).</summary>
    public int? MaxLength { get; init; }
    /// <summary>Class names (index = class id) that labels in text files are looked up in.</summary>
    public string? ClassNames { get; init; }

    /// <summary>The model the data feeds; read lazily (only image folders and token files need it).</summary>
    public string? ModelPath
    {
        get => _modelPath;
        init
        {
            _modelPath = value;
            _inputs = new Lazy<IReadOnlyList<ModelInputSignature>>(() => value is null ? [] : ModelInputSignature.AllFromModel(value));
            _input = new Lazy<ModelInputSignature?>(() => _inputs.Value is [var single] ? single : null);
        }
    }
    private readonly string? _modelPath;

    /// <summary>
    /// The model's one input (null when there is no model or it has several). Set instead of <see cref="ModelPath"/> when
    /// the signature is already known (tests, synthetic data).
    /// </summary>
    public ModelInputSignature? Input
    {
        get => _input.Value;
        init
        {
            _input = new Lazy<ModelInputSignature?>(() => value);
            _inputs = new Lazy<IReadOnlyList<ModelInputSignature>>(() => value is null ? [] : [value]);
        }
    }

    /// <summary>Every input of the model the data feeds, in graph order (empty when no model is known).</summary>
    public IReadOnlyList<ModelInputSignature> Inputs => _inputs.Value;

    /// <summary>A copy that reads for another model (the recipe's options stay).</summary>
    public DataReadOptions ForModel(string? modelPath) => new()
    {
        LabelColumn = LabelColumn, PixelScale = PixelScale, ImageMean = ImageMean, ImageStd = ImageStd, PadId = PadId, ModelPath = modelPath,
        Tokenizer = Tokenizer, TextColumn = TextColumn, MaxLength = MaxLength, ClassNames = ClassNames,
    };

    /// <summary>The options a recipe asks for (MB0124 on a bad value), reading for <paramref name="modelPath"/>.</summary>
    public static DataReadOptions FromRecipe(CompressionRecipe recipe, string? modelPath) => new()
    {
        LabelColumn = recipe.LabelColumn,
        PixelScale = ParseScale(recipe.ImageScale),
        ImageMean = Check("--image-mean", recipe.ImageMean, positive: false),
        ImageStd = Check("--image-std", recipe.ImageStd, positive: true),
        PadId = recipe.PadId ?? 0,
        Tokenizer = recipe.Tokenizer,
        TextColumn = recipe.TextColumn,
        MaxLength = recipe.MaxLength,
        ClassNames = recipe.Labels,
        ModelPath = modelPath,
    };

    /// <summary><c>0..1</c> (default) or <c>0..255</c>; also accepts <c>0-1</c>, <c>unit</c>, <c>0-255</c>, <c>byte</c>.</summary>
    public static PixelScale ParseScale(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "0..1" or "0-1" or "unit" => PixelScale.Unit,
        "0..255" or "0-255" or "byte" or "raw" => PixelScale.Byte,
        _ => throw DataErrors.Option("--image-scale", text!, "use 0..1 or 0..255"),
    };

    static float[]? Check(string name, List<double>? values, bool positive)
    {
        if (values is null) return null;
        var text = string.Join(",", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));
        if (values.Count is not (1 or 3)) throw DataErrors.Option(name, text, "give 1 value or 3 (one per channel)");
        if (values.Any(v => !double.IsFinite(v) || (positive && v <= 0))) throw DataErrors.Option(name, text, positive ? "every value must be above 0" : "every value must be finite");
        return values.Select(v => (float)v).ToArray();
    }

    /// <summary>Comma- or semicolon-separated numbers (invariant culture), e.g. <c>0.485,0.456,0.406</c>.</summary>
    public static List<double>? ParseList(string name, string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var values = new List<double>();
        foreach (var part in parts)
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
                throw DataErrors.Option(name, text, "give numbers separated by commas, with a '.' decimal point");
            values.Add(v);
        }
        return values;
    }
}
