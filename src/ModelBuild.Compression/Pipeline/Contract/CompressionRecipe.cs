using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelBuild.Compression.Pipeline.Contract;

/// <summary>
/// What to do to one model: the JSON recipe (<c>modelbuild compress --recipe</c>, <c>&lt;CompressModel Recipe="..."/&gt;</c>)
/// and the normalized form of the command line options. Values use the command line's words
/// (<c>int8-static</c>, <c>entropy</c>), case-insensitive. This file is shared, as source, with ModelBuild.Tasks
/// (see DESIGN.md: Tasks depends on nothing of ours but this contract), so it uses only the BCL.
/// An unknown property is an error (a misspelt <c>maxAccuracyDrop</c> must not silently drop a quality gate): <see cref="FromJson"/>
/// accepts only the schema's names.
/// The typed properties below are the older settings; a setting added since has only its line in <see cref="RecipeSchema"/>,
/// its value is in <see cref="Values"/>, and its stage reads it with <see cref="Number"/>, <see cref="Integer"/>, <see cref="Text"/> or <see cref="Flag"/>.
/// </summary>
public sealed class CompressionRecipe
{
    /// <summary>
    /// The values of the schema's settings that have no typed property, by recipe-file (JSON) name, typed by their kind
    /// (double, int, bool, string, List&lt;double&gt;, List&lt;string&gt;); unset ones are absent. Written into the recipe
    /// JSON as ordinary properties (sorted), so a recipe file, the worker's recipe and the content key treat them like
    /// the typed ones, and a recipe that sets none of them serializes exactly as before they existed.
    /// </summary>
    [JsonExtensionData]
    public SortedDictionary<string, object?>? Values { get; set; }

    /// <summary>A number setting's value, else its schema default (a stage never repeats the default).</summary>
    public double Number(RecipeSetting setting) => NumberOrNull(setting) ?? setting.DefaultNumber;
    /// <summary>A number setting's value; null when unset.</summary>
    public double? NumberOrNull(RecipeSetting setting) => setting.Get(this) is double number ? number : null;
    /// <summary>A whole-number setting's value, else its schema default.</summary>
    public int Integer(RecipeSetting setting) => IntegerOrNull(setting) ?? (int)setting.DefaultNumber;
    /// <summary>A whole-number setting's value; null when unset.</summary>
    public int? IntegerOrNull(RecipeSetting setting) => setting.Get(this) switch { int i => i, long l => checked((int)l), _ => null };
    /// <summary>A word, text, file or data setting's value, else its schema default (null when it has none).</summary>
    public string? Text(RecipeSetting setting) => setting.Get(this) as string ?? (setting.Default.Length > 0 ? setting.Default : null);
    /// <summary>A true/false setting's value, else its schema default.</summary>
    public bool Flag(RecipeSetting setting) => setting.Get(this) is bool flag ? flag : setting.Default == "true";

    // Model
    public string Teacher { get; set; } = "";
    public string Output { get; set; } = "";

    // Quantization: none | int8-dynamic | int8-static | int4-weight | fp16 | auto
    public string Quantize { get; set; } = "none";
    public string? CalibrationData { get; set; }
    /// <summary>minmax | percentile | entropy</summary>
    public string? CalibrationMethod { get; set; }

    // Graph optimization (before quantization): auto (default) | all | none
    /// <summary>
    /// auto: rewrite attention, LayerNorm, residual+LayerNorm, GELU and BERT embeddings into ONNX Runtime's fused
    /// operators that pay on ONNX Runtime's CPU provider, each rewrite kept only when ONNX Runtime's outputs match
    /// within 1e-4; all: also SkipLayerNormalization and EmbedLayerNormalization; none: leave the graph as is.
    /// Null means auto.
    /// </summary>
    public string? Optimize { get; set; }

    // Pruning
    public double? Prune { get; set; }
    /// <summary>structured | unstructured</summary>
    public string? PruneMode { get; set; }
    public int? PruneSteps { get; set; }
    public List<string>? PruneExclude { get; set; }

    // Distillation
    public bool Distill { get; set; }
    public string? Student { get; set; }
    public double? StudentWidth { get; set; }
    public double? StudentDepth { get; set; }
    /// <summary>Derived transformer students: FFN (hidden neuron) width factor; null uses <see cref="StudentWidth"/>.</summary>
    public double? StudentFfnWidth { get; set; }
    public string? TrainingData { get; set; }
    public string? TrainingLabels { get; set; }
    public int? Epochs { get; set; }
    public int? BatchSize { get; set; }
    public double? LearningRate { get; set; }
    public double? Temperature { get; set; }
    public double? Alpha { get; set; }
    public bool Reinitialize { get; set; }
    /// <summary>response | feature | relation</summary>
    public string? Loss { get; set; }
    public string? FeaturePairs { get; set; }
    public int? Synthetic { get; set; }
    /// <summary>Dropout rate while training the student (hidden linear outputs, attention probabilities); default 0.1 for a transformer student from fresh weights, else 0.</summary>
    public double? Dropout { get; set; }
    /// <summary>AdamW weight decay while distilling; default 0.01.</summary>
    public double? WeightDecay { get; set; }
    /// <summary>Label smoothing of the hard-label cross-entropy term while distilling; default 0.</summary>
    public double? LabelSmoothing { get; set; }
    /// <summary>
    /// Quantization-aware distillation: the student trains through int8 fake quantization (weights and the activations
    /// the int8-static step quantizes, straight-through gradients), then that step writes the QDQ model.
    /// Requires Quantize = int8-static.
    /// </summary>
    public bool QuantizationAware { get; set; }

    /// <summary>off (default) | auto (convolutional students from fresh weights) | on: train with a BatchNorm after each Conv that has none, folded into the Conv at export.</summary>
    public string? TrainBatchNorm { get; set; }
    /// <summary>
    /// Fraction of the training rows held out (deterministically, by <see cref="Seed"/>) to choose the best epoch and
    /// student on: agreement with the teacher, then the validation loss. Null: 0.1; 0 trains on every row and keeps the last epoch.
    /// </summary>
    public double? ValidationSplit { get; set; }
    /// <summary>Validation rows from this data file instead of a split of the training rows (read as the training data is).</summary>
    public string? ValidationData { get; set; }
    /// <summary>Teacher-labelled variants per training row (TinyBERT-style token replacement from the teacher's embeddings, deletion, swaps); null: none.</summary>
    public int? Augment { get; set; }
    /// <summary>Stop distilling after this many epochs without a better validation score; null: run every epoch (the best is kept either way).</summary>
    public int? Patience { get; set; }
    /// <summary>Train this many students (seeds seed, seed+1, ...) one after another and keep the best on validation; null: 1.</summary>
    public int? Seeds { get; set; }
    /// <summary>
    /// A teacher that can only be called: an http(s) URL taking batches of inputs as JSON and answering logits,
    /// probabilities or labels (docs/distillation.md). The model to compress (<see cref="Teacher"/>) is then the
    /// student, unless <see cref="Student"/> names one; the endpoint's answers are cached in the stage cache.
    /// </summary>
    public string? TeacherEndpoint { get; set; }
    /// <summary>Name of the environment variable holding the endpoint's token (sent as <c>Authorization: Bearer</c>, or in <see cref="TeacherEndpointHeader"/>); never the token itself.</summary>
    public string? TeacherEndpointTokenEnv { get; set; }
    /// <summary>Header carrying the token as is (e.g. <c>x-api-key</c>) instead of <c>Authorization: Bearer</c>.</summary>
    public string? TeacherEndpointHeader { get; set; }
    /// <summary>Most HTTP requests (retries included) one run may make to the endpoint; null: no limit.</summary>
    public int? TeacherMaxCalls { get; set; }
    /// <summary>Rows per endpoint request (default 64).</summary>
    public int? TeacherBatchSize { get; set; }
    /// <summary>Seconds one endpoint request may take before it is retried (default 60).</summary>
    public double? TeacherTimeout { get; set; }

    // Evaluation and gates
    public string? EvaluationData { get; set; }
    public string? EvaluationLabels { get; set; }
    /// <summary>The model output accuracy and agreement are computed on (arg-max per sample); null: the first output.</summary>
    public string? MetricOutput { get; set; }

    // Reading data (every data file of the recipe: training, evaluation, calibration)
    /// <summary>CSV/TSV column holding the class: a header name or a 0-based index.</summary>
    public string? LabelColumn { get; set; }
    /// <summary>Image folders: <c>0..1</c> (default) or <c>0..255</c>.</summary>
    public string? ImageScale { get; set; }
    /// <summary>Image folders: per-channel mean subtracted after scaling (1 or 3 values).</summary>
    public List<double>? ImageMean { get; set; }
    /// <summary>Image folders: per-channel standard deviation divided by after the mean (1 or 3 values).</summary>
    public List<double>? ImageStd { get; set; }
    /// <summary>Token-id files: the id short sequences are padded with (default 0).</summary>
    public long? PadId { get; set; }
    /// <summary>Text data (.tsv/.csv/.txt read with <see cref="Tokenizer"/>): the column holding the text (header name or 0-based index).</summary>
    public string? TextColumn { get; set; }
    /// <summary>The tokenizer file text data is read with: vocab.txt (WordPiece/BERT), tokenizer.json, a SentencePiece .model or .tiktoken.</summary>
    public string? Tokenizer { get; set; }
    /// <summary>Text data: tokens per sequence; default the model's fixed length, else the longest text's, at most 512.</summary>
    public int? MaxLength { get; set; }
    /// <summary>Class names, index = class id (a JSON list, or a Hugging Face config.json with id2label), so labels in data files can be names.</summary>
    public string? Labels { get; set; }
    /// <summary>Accuracy points (0-100 scale) the result may lose against the teacher.</summary>
    public double? MaxAccuracyDrop { get; set; }
    /// <summary>Minimum top-1 agreement with the teacher, in percent (0-100).</summary>
    public double? MinAgreement { get; set; }
    public double? MaxLatencyMicroseconds { get; set; }
    /// <summary>off (default, null) | on: int8-static keeps nodes float whose int8 form measured slower (Quantization/MeasuredExclusion); the bytes then depend on the CPU's timings.</summary>
    public string? Int8NodeTiming { get; set; }
    /// <summary>Write the result even when it is slower than the float input.</summary>
    public bool Force { get; set; }
    /// <summary>latency (default, null) | size: what auto weighs first among the forms that pass the gates; size also tries int4-weight.</summary>
    public string? Prefer { get; set; }
    /// <summary>Whether <see cref="Prefer"/> weighs bytes over latency (<c>--prefer size</c>); latency when unset. Read by the quantize and optimize stages.</summary>
    public bool PrefersSize() => string.Equals(Prefer?.Trim(), "size", StringComparison.OrdinalIgnoreCase);

    public int Seed { get; set; }
    public int? Threads { get; set; }
    /// <summary>
    /// auto (default, null): time the result's session settings at batch 1 and write them to &lt;output&gt;.session.json
    /// for the runtime pool; off: do not (and remove a sidecar left from an earlier run).
    /// </summary>
    public string? TuneSession { get; set; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Reads a recipe: the typed properties, then every other property must be a setting of the schema (typed and checked by it).</summary>
    public static CompressionRecipe FromJson(string json)
    {
        var recipe = JsonSerializer.Deserialize<CompressionRecipe>(json, JsonOptions) ?? throw new JsonException("The recipe is empty.");
        if (recipe.Values is not { } read) return recipe;
        recipe.Values = null;
        foreach (var (name, value) in read)
        {
            var setting = RecipeSchema.Settings.FirstOrDefault(s => !s.HasProperty && string.Equals(s.Json, name, StringComparison.OrdinalIgnoreCase))
                ?? throw new JsonException($"The JSON property '{name}' could not be mapped to any recipe setting (docs/generated/options.md lists them).");
            setting.Set(recipe, value is JsonElement element ? setting.FromJson(element) : value);
        }
        return recipe;
    }
}
