using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Distillation;

/// <summary>The MB03xx diagnostics of distillation (MB0301/MB0302 are raised by the importer). See docs/diagnostics.md.</summary>
internal static class DistillationErrors
{
    public static ModelBuildException LabelCountMismatch(string labels, long labelCount, string data, long rows) => new("MB0303",
        $"The training labels have {labelCount} entries but the training data has {rows} rows ({Path.GetFileName(data)}).",
        "Pass labels with exactly one int64 class index per training row, in the same order.", labels);

    public static ModelBuildException OutputShapeMismatch(string student, long[] studentShape, long[] teacherShape) => new("MB0304",
        $"The student's output shape [{string.Join(",", studentShape)}] differs from the teacher's [{string.Join(",", teacherShape)}].",
        "Use a student whose output has the teacher's shape (same number of classes), or derive one with --student-width/--student-depth.", student);

    public static ModelBuildException NonFiniteLoss(int epoch, int step, double learningRate) => new("MB0305",
        $"The distillation loss became NaN or infinite in epoch {epoch} (step {step}) at learning rate {learningRate:G3}; no output was written.",
        $"Lower the learning rate (e.g. --learning-rate {learningRate / 10:G3}), keep gradient clipping on, and check the data for NaN/Inf values.");

    public static ModelBuildException ValidationTwice(double fraction, string file) => new("MB0370",
        $"Both --validation-split {fraction} and --validation-data {Path.GetFileName(file)} were given: validation rows come from one or the other.",
        "Drop --validation-split to validate on the file (the training rows are then all trained on), or drop --validation-data to hold out a part of the training rows.", file);

    public static ModelBuildException AugmentNeedsTokens(string data, string detail) => new("MB0371",
        $"--augment cannot vary the training data {Path.GetFileName(data)}: {detail}.",
        "Use --augment with float features only, or with token-id or text data (one input of ids, or input_ids beside a mask) and a teacher file whose word embeddings are a Gather from that input; or drop --augment.", data);

    public static ModelBuildException NoTransformerLayers(string model) => new("MB0366",
        "--loss layerwise maps the student's transformer encoder layers to the teacher's, but this model has none the structure finder recognizes (a self-attention residual block followed by a feed-forward residual block, repeated identically), or the student has more layers than the teacher.",
        "Use --loss response (or --loss feature with --feature-pairs naming the tensors), or a transformer teacher and a student with at most its number of layers (e.g. derived with --student-width/--student-depth).", model);

    /// <summary><paramref name="role"/>: "training" or "validation"; <paramref name="labels"/>: the labels file, or the data file whose label column (class folders) they came from.</summary>
    public static ModelBuildException LabelOutOfRange(string role, string labels, long entry, long label, long classes) => new("MB0306",
        $"The {role} labels in '{labels}' hold class {label} at entry {entry}, but the teacher has {classes} outputs (classes 0..{classes - 1}).",
        "Pass 0-based int64 class indices that match the teacher's output order.", labels);

    public static ModelBuildException DataDoesNotFitModel(string data, string model, string detail, Exception? inner) => new("MB0307",
        $"The training data does not fit the model's input: {detail}",
        "Pass inputs with the model's input shape and element type (e.g. float32 [rows, features] or int64 token ids [rows, length]).", data, inner);

    /// <summary>
    /// An operator the importer takes in general but not in this form (a Conv with 3 spatial dimensions, a Cast to a
    /// type it does not map, a string Constant): the same code as an unsupported operator, since the fix is the same.
    /// </summary>
    public static ModelBuildException UnsupportedByImporter(string model, NotSupportedException e) => new("MB0301",
        $"The model uses an operator form the distillation importer does not support: {e.Message}",
        "Distill a model that uses only the supported operators and forms (see docs/diagnostics.md), or export it differently.", model, e);

    public static ModelBuildException InvalidOption(string option, string detail) => new("MB0308",
        $"Invalid distillation setting {option}: {detail}.",
        "Fix the value of " + option + " (see `modelbuild compress --help`).");

    public static ModelBuildException CannotDeriveStudent(string teacher, string detail) => new("MB0309",
        $"Cannot derive a student from the teacher's structure: {detail}.",
        "Pass a student model with --student; derivation recognizes MLPs (Gemm/MatMul chains with activations), Conv nets and transformer encoders.", teacher);

    public static ModelBuildException UnknownTensor(string model, string name, string role) => new("MB0310",
        $"The {role} has no tensor named '{name}' for the feature/relation loss.",
        "Name a graph input, initializer or node output of that model (see `modelbuild inspect`).", model);

    public static ModelBuildException NoTrainingData() => new("MB0311",
        "Distillation needs training inputs, and none were given.",
        "Pass --train-data <x.npy> (labels are optional), or --synthetic N (with a few samples in --train-data, or alone for a teacher with BatchNormalization layers).");

    public static ModelBuildException StudentInputNotInTeacher(string student, IReadOnlyList<string> missing, IReadOnlyList<string> teacherInputs, string teacher) => new("MB0340",
        $"The student reads input(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} that the teacher does not have (teacher inputs: {string.Join(", ", teacherInputs)}; {Path.GetFileName(teacher)}).",
        "Use a student whose inputs are named as the teacher's (it is trained on the teacher's inputs), e.g. one exported from the same tokenizer/pipeline or derived with --student-width/--student-depth.", student);
}
