namespace ModelBuild.Compression.Pipeline.Contract;

/// <summary>
/// Every setting of a <see cref="CompressionRecipe"/>, declared once. Derived from this table: the
/// <c>&lt;CompressModel&gt;</c> metadata mapping and its validation (ModelBuild.Tasks' RecipeFromItem), recipe-file
/// path resolution, the <c>compress</c> options and help (ModelBuild.Cli), the allowed words the pipeline checks,
/// the unused-setting warnings (MB0515), each stage's cache inputs, the ItemDefinitionGroup in build/ModelBuild.props,
/// the file inputs of build/ModelBuild.targets, docs/generated/options.md and docs/recipe.schema.json (the last four
/// are generated files, checked by RecipeSchemaTests). Adding a setting: a property on CompressionRecipe, one line here, and
/// the stage code that reads it (docs/recipe-schema.md). Shared as source with ModelBuild.Tasks: BCL only.
/// <see cref="RecipeSetting.Stage"/> names the owner (docs, MB0515's grouping); <c>UsedBy</c> the stages whose
/// cached output the value changes (forgetting one there serves a stale stage; listing one too many only costs a miss).
/// </summary>
public static class RecipeSchema
{
    public const string Distill = "distill";
    public const string Prune = "prune";
    public const string Optimize = "optimize";
    public const string Quantize = "quantize";
    /// <summary>Evaluation and quality gates (the pipeline itself).</summary>
    public const string Evaluate = "evaluate";
    /// <summary>How every data file is read: it changes every stage that reads data.</summary>
    public const string Reading = "reading";
    /// <summary>Run settings (seed, threads).</summary>
    public const string Run = "run";

    private static readonly string[] Trainers = [Distill, Prune];
    private static readonly string[] DataReaders = [Distill, Prune, Quantize];

    /// <summary>The table, in the order the command line's help and the docs list it.</summary>
    public static readonly IReadOnlyList<RecipeSetting> Settings =
    [
        new("Quantize", "--quantize", SettingKind.Word, Quantize, "Quantization form; auto tries the int8 forms and keeps the fastest that passes the gates (with --prefer size also int4-weight, and the smallest).") { Words = ["none", "int8-dynamic", "int8-static", "int8-weights", "int4-weight", "fp16", "auto"], Default = "none", UsedBy = [Quantize] },
        new("CalibrationData", "--calibration-data", SettingKind.Data, Quantize, "Calibration inputs: .npy/.npz, .csv/.tsv, token-id file, image folder or TensorProto folder (see docs/cli.md).") { UsedBy = [Quantize] },
        new("CalibrationMethod", "--calibration-method", SettingKind.Word, Quantize, "Static int8 calibration method.") { Words = ["minmax", "percentile", "entropy"], Default = "minmax", UsedBy = [Quantize] },
        new("Optimize", "--optimize", SettingKind.Word, Optimize, "Rewrite attention, LayerNorm, GELU and BERT embeddings into ONNX Runtime's fused CPU operators before quantization, each rewrite kept only when ONNX Runtime's outputs match within 1e-4; all adds SkipLayerNormalization and EmbedLayerNormalization.") { Words = ["auto", "all", "none"], Default = "auto", UsedBy = [Optimize] },
        new("Prune", "--prune", SettingKind.Number, Prune, "Fraction of weights/channels to prune.") { Min = 0, Max = 1, MaxInclusive = false, UsedBy = [Prune] },
        new("PruneMode", "--prune-mode", SettingKind.Word, Prune, "structured: remove neurons, channels, heads; unstructured: zero weights.") { Words = ["structured", "unstructured"], Default = "structured", UsedBy = [Prune], WarnWhenUnused = true },
        new("PruneSteps", "--prune-steps", SettingKind.Integer, Prune, "Reach --prune in this many steps, each followed by recovery training.") { Min = 1, Default = "1", UsedBy = [Prune], WarnWhenUnused = true },
        new("PruneExclude", "--prune-exclude", SettingKind.Names, Prune, "Node or initializer names to leave unpruned, separated by ',' or ';'; a trailing * matches a prefix.") { UsedBy = [Prune], WarnWhenUnused = true },
        new("Distill", "--distill", SettingKind.Bool, Distill, "Distill the teacher into a student.") { Default = "false" },
        new("Student", "--student", SettingKind.File, Distill, "Student ONNX model for distillation.") { UsedBy = [Distill], WarnWhenUnused = true },
        new("StudentWidth", "--student-width", SettingKind.Number, Distill, "Derive the student from the teacher (MLP, Conv net or transformer): hidden widths, Conv channels, d_model and heads times this factor.") { Min = 0, Max = 1, MinInclusive = false, UsedBy = [Distill], WarnWhenUnused = true },
        new("StudentDepth", "--student-depth", SettingKind.Number, Distill, "Derive the student from the teacher: hidden layers, transformer layers or repeated same-shape Conv blocks times this factor.") { Min = 0, Max = 1, MinInclusive = false, UsedBy = [Distill], WarnWhenUnused = true },
        new("StudentFfnWidth", "--student-ffn-width", SettingKind.Number, Distill, "Derive the student from the teacher: FFN / hidden neuron widths times this factor (default: --student-width).") { Min = 0, Max = 1, MinInclusive = false, UsedBy = [Distill], WarnWhenUnused = true },
        new("TrainingData", "--train-data", SettingKind.Data, Distill, "Training inputs for distillation and pruning recovery: .npy, file.npz:name, .csv/.tsv (labels from --label-column), token-id file, image folder (labels from class subfolders), TensorProto folder.") { UsedBy = Trainers },
        new("TrainingLabels", "--train-labels", SettingKind.File, Distill, "Class labels for --train-data (.npy, or text with one per line; optional: without them, pure KD on the teacher's outputs).") { UsedBy = Trainers },
        new("Epochs", "--epochs", SettingKind.Integer, Distill, "Distillation epochs (recovery after each pruning step: 10).") { Min = 1, Default = "20", UsedBy = Trainers },
        new("BatchSize", "--batch-size", SettingKind.Integer, Distill, "Training batch size.") { Min = 1, Default = "32", UsedBy = Trainers },
        new("LearningRate", "--learning-rate", SettingKind.Number, Distill, "AdamW learning rate, warm-up then cosine decay.") { Min = 0, MinInclusive = false, Default = "0.001", UsedBy = Trainers },
        new("Temperature", "--temperature", SettingKind.Number, Distill, "Softmax temperature of the soft targets.") { Min = 0, MinInclusive = false, Default = "4", UsedBy = Trainers, WarnWhenUnused = true },
        new("Alpha", "--alpha", SettingKind.Number, Distill, "Weight of the soft-target loss against the hard labels.") { Min = 0, Max = 1, Default = "0.9", UsedBy = Trainers },
        new("Reinitialize", "--reinitialize", SettingKind.Bool, Distill, "Start the student from fresh initial weights instead of the --student file's (or, for a student derived with --student-width/--student-depth, the teacher's kept layers and units).") { Default = "false", UsedBy = [Distill], WarnWhenUnused = true },
        new("Loss", "--loss", SettingKind.Word, Distill, "Distillation loss: on the outputs, on feature pairs, on the relation between samples, or layer-wise (transformer hidden states and attention of uniformly mapped layers, then the outputs).") { Words = ["response", "feature", "relation", "layerwise"], Default = "response", UsedBy = [Distill], WarnWhenUnused = true },
        new("FeaturePairs", "--feature-pairs", SettingKind.Text, Distill, "teacher_tensor:student_tensor pairs, comma-separated, for --loss feature (one pair for relation).") { UsedBy = [Distill], WarnWhenUnused = true },
        new("Synthetic", "--synthetic", SettingKind.Integer, Distill, "Train on N synthetic inputs labelled by the teacher: generated from --train-data's samples, or without --train-data inverted from the teacher's BatchNorm statistics (DeepInversion).") { Min = 1, UsedBy = Trainers },
        new("Dropout", "--dropout", SettingKind.Number, Distill, "Dropout rate while training the student.") { Min = 0, Max = 1, MaxInclusive = false, Default = "0", UsedBy = [Distill] },
        new("WeightDecay", "--weight-decay", SettingKind.Number, Distill, "AdamW weight decay while distilling.") { Min = 0, Default = "0.01", UsedBy = [Distill], WarnWhenUnused = true },
        new("LabelSmoothing", "--label-smoothing", SettingKind.Number, Distill, "Label smoothing of the cross-entropy on the true labels (the 1 - alpha term) while distilling.") { Min = 0, Max = 1, MaxInclusive = false, Default = "0", UsedBy = [Distill], WarnWhenUnused = true },
        new("QuantizationAware", "--quantization-aware", SettingKind.Bool, Distill, "Distill through int8 fake quantization (weights and activations, straight-through gradients) for the int8-static step that follows; needs --quantize int8-static.") { Default = "false", UsedBy = [Distill], WarnWhenUnused = true },
        new("TrainBatchNorm", "--train-batchnorm", SettingKind.Word, Distill, "Train a BatchNorm after each Conv that has none, folded into the Conv at export; auto: convolutional students from fresh weights.") { Words = ["off", "auto", "on"], Default = "off", UsedBy = [Distill], WarnWhenUnused = true },
        new("ValidationSplit", "--validation-split", SettingKind.Number, Distill, "Fraction of the training rows held out to keep the best epoch and student on (agreement with the teacher, then validation loss); 0 keeps the last epoch of training on every row.") { Min = 0, Max = 1, MaxInclusive = false, Default = "0.1", UsedBy = [Distill], WarnWhenUnused = true },
        new("ValidationData", "--validation-data", SettingKind.Data, Distill, "Validation rows from this file (read like --train-data; its labels, if any, give validation accuracy) instead of holding out --validation-split of the training rows; every training row is trained on.") { UsedBy = [Distill], WarnWhenUnused = true },
        new("Augment", "--augment", SettingKind.Integer, Distill, "Add N teacher-labelled variants of each training row (token ids: TinyBERT-style replacement by nearest neighbours in the teacher's word embeddings, deletion, swaps; seeded by --seed).") { Min = 0, Default = "0", UsedBy = [Distill], WarnWhenUnused = true },
        new("Patience", "--patience", SettingKind.Integer, Distill, "Stop distilling after this many epochs without a better validation score (default: run every epoch; the best is kept either way).") { Min = 1, UsedBy = [Distill], WarnWhenUnused = true },
        new("Seeds", "--seeds", SettingKind.Integer, Distill, "Train N students (seeds --seed, --seed+1, ...) one after another and keep the best on validation.") { Min = 1, Default = "1", UsedBy = [Distill], WarnWhenUnused = true },
        new("TeacherEndpoint", "--teacher-endpoint", SettingKind.Text, Distill, "Distill from a teacher you can only call: an http(s) URL answering batches of inputs (JSON) with logits, probabilities or labels (docs/distillation.md). The model to compress is then the student.") { UsedBy = [Distill], WarnWhenUnused = true },
        // The token's variable, the header, the budget and the timeout do not change the answers: no cache key (and the token never is one).
        new("TeacherEndpointTokenEnv", "--teacher-endpoint-token-env", SettingKind.Text, Distill, "Environment variable holding the endpoint's token (sent as Authorization: Bearer; never logged or cached).") { WarnWhenUnused = true },
        new("TeacherEndpointHeader", "--teacher-endpoint-header", SettingKind.Text, Distill, "Send the token in this header as is (e.g. x-api-key) instead of Authorization: Bearer.") { WarnWhenUnused = true },
        new("TeacherMaxCalls", "--teacher-max-calls", SettingKind.Integer, Distill, "Most HTTP requests (retries included) to the teacher endpoint in one run (default: no limit).") { Min = 1, WarnWhenUnused = true },
        new("TeacherBatchSize", "--teacher-batch-size", SettingKind.Integer, Distill, "Rows per teacher endpoint request.") { Min = 1, Default = "64", UsedBy = [Distill], WarnWhenUnused = true },
        new("TeacherTimeout", "--teacher-timeout", SettingKind.Number, Distill, "Seconds one teacher endpoint request may take before it is retried.") { Min = 0, MinInclusive = false, Default = "60", WarnWhenUnused = true },
        new("EvaluationData", "--eval-data", SettingKind.Data, Evaluate, "Evaluation inputs, in any format --train-data takes; `generated[:N]` for inputs generated from the model.") { UsedBy = [Prune, Quantize] },
        new("EvaluationLabels", "--eval-labels", SettingKind.File, Evaluate, "Evaluation labels (.npy or text, int class ids), unless the data carries them.") { UsedBy = [Prune, Quantize] },
        new("MetricOutput", "--metric-output", SettingKind.Text, Evaluate, "Models with several outputs: the output accuracy and agreement are computed on (default: the first).") { UsedBy = DataReaders },
        new("MaxAccuracyDrop", "--max-accuracy-drop", SettingKind.Number, Evaluate, "Quality gate: accuracy points (0-100 scale) the result may lose against the teacher.") { Min = 0, Max = 100, UsedBy = [Quantize] },
        new("MinAgreement", "--min-agreement", SettingKind.Number, Evaluate, "Quality gate: minimum top-1 agreement with the teacher, percent.") { Min = 0, Max = 100, UsedBy = [Quantize] },
        new("MaxLatencyMicroseconds", "--max-latency-us", SettingKind.Number, Evaluate, "Quality gate: maximum batch-1 latency of the result, microseconds.") { Min = 0, MinInclusive = false },
        new("Prefer", "--prefer", SettingKind.Word, Quantize, "What --quantize auto weighs first among the forms that pass the gates: latency (the fastest) or size (the smallest file; also tries int4-weight).") { Words = ["latency", "size"], Default = "latency", UsedBy = [Quantize], WarnWhenUnused = true },
        // Opt-in: the choice depends on this CPU's timings at build time, so the bytes of the output do too.
        new("Int8NodeTiming", "--int8-node-timing", SettingKind.Word, Quantize, "int8-static: time each quantized node against its float form at build time and keep the slower-in-int8 ones float (weights stored int8); the output then depends on this CPU's timings, so it is off unless asked.") { Words = ["off", "on"], Default = "off", UsedBy = [Quantize], WarnWhenUnused = true },
        new("Force", "--force", SettingKind.Bool, Quantize, "Write the quantized model even when it is slower than the float input.") { Default = "false", UsedBy = [Quantize] },
        // Writes <output>.session.json beside the model and never changes the model's bytes: no cache key. The build does
        // not carry that file to bin/ or the cache yet, so an item tunes only when it asks.
        new("TuneSession", "--tune-session", SettingKind.Word, Run, "Time the result's session settings (intra-op threads, optimization level) at batch 1 and record the choice in <output>.session.json for the runtime pool (off in a build unless the item asks).") { Words = ["auto", "off"], Default = "auto", BuildDefault = "off" },
        new("Seed", "--seed", SettingKind.Integer, Run, "Random seed; same inputs and seed give byte-identical outputs.") { Min = int.MinValue, Default = "0", UsedBy = Trainers },
        new("Threads", "--threads", SettingKind.Integer, Run, "Intra-op threads for evaluation and calibration (latency is always measured with 1).") { Min = 1 },
        new("LabelColumn", "--label-column", SettingKind.Text, Reading, "CSV/TSV data: the column holding the class (header name or 0-based index); the other columns are features.") { UsedBy = DataReaders },
        new("ImageScale", "--image-scale", SettingKind.Word, Reading, "Image folders: pixel scale before normalization.") { Words = ["0..1", "0..255"], Default = "0..1", UsedBy = DataReaders },
        new("ImageMean", "--image-mean", SettingKind.Numbers, Reading, "Image folders: per-channel mean to subtract after scaling, e.g. 0.485,0.456,0.406 (1 or 3 values).") { UsedBy = DataReaders },
        new("ImageStd", "--image-std", SettingKind.Numbers, Reading, "Image folders: per-channel standard deviation to divide by, e.g. 0.229,0.224,0.225 (1 or 3 values).") { Positive = true, UsedBy = DataReaders },
        new("PadId", "--pad-id", SettingKind.Integer, Reading, "Token-id files: the id shorter sequences are padded with.") { Min = 0, Default = "0", UsedBy = DataReaders },
        new("Tokenizer", "--tokenizer", SettingKind.File, Reading, "Text data (.tsv/.csv/.txt): the tokenizer file, vocab.txt (BERT WordPiece; tokenizer_config.json beside it), tokenizer.json, a SentencePiece .model or a .tiktoken file.") { UsedBy = DataReaders, Beside = ContentKey.TokenizerConfig },
        new("TextColumn", "--text-column", SettingKind.Text, Reading, "Text data: the column holding the text (header name or 0-based index); default the one column besides the label, else 'text'.") { UsedBy = DataReaders },
        new("MaxLength", "--max-length", SettingKind.Integer, Reading, "Text data: tokens per sequence; default the model's fixed sequence length, else the longest text's, at most 512.") { Min = 1, UsedBy = DataReaders },
        new("Labels", "--labels", SettingKind.File, Reading, "Class names, index = class id: a JSON list (labels.json) or a Hugging Face config.json with id2label; labels in text files may then be names.") { UsedBy = DataReaders },
    ];

    /// <summary>The setting whose metadata (property) name is <paramref name="metadata"/>.</summary>
    public static RecipeSetting Get(string metadata) => Settings.First(s => s.Metadata == metadata);

    /// <summary>The allowed words of a <see cref="SettingKind.Word"/> setting.</summary>
    public static string[] WordsOf(string metadata) => Get(metadata).Words;

    /// <summary>The settings that name files or data inputs, in table order.</summary>
    public static IEnumerable<RecipeSetting> Files => Settings.Where(s => s.NamesFile);

    /// <summary>
    /// What the recipe contributes to <paramref name="stage"/>'s cache key: the values of the settings it uses (by
    /// JSON name, unset ones left out) and the files it reads (every slot, null for "not given", so a file that
    /// appears or goes changes the key).
    /// </summary>
    public static (SortedDictionary<string, object?> Settings, List<string?> Files) StageInputs(string stage, CompressionRecipe recipe)
    {
        var settings = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        var files = new List<string?>();
        foreach (var setting in Settings.Where(s => s.UsedBy.Contains(stage)))
        {
            if (setting.NamesFile) files.Add((string?)setting.Get(recipe));
            else if (setting.Get(recipe) is { } value) settings[setting.Json] = value;
        }
        return (settings, files);
    }
}
