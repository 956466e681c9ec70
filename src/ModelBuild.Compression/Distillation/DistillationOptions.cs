using ModelBuild.Compression.Distillation.Losses;

namespace ModelBuild.Compression.Distillation;

/// <summary>Which extra distillation term joins the response (soft-target) loss.</summary>
public enum DistillationLossKind { Response, Feature, Relation, Layerwise }

/// <summary>
/// Everything <see cref="StudentDistiller"/> needs. Defaults follow common PyTorch practice (AdamW, lr 1e-3,
/// weight decay 0.01, 6% linear warm-up then cosine decay, gradient norm clipped at 1, T = 4, alpha = 0.9).
/// </summary>
public sealed class DistillationOptions
{
    /// <summary>The teacher ONNX file. With <see cref="TeacherEndpoint"/> it is not run: it may name the student, whose input the data is read for.</summary>
    public required string TeacherPath { get; init; }
    /// <summary>A teacher that can only be called (HTTP endpoint) instead of running <see cref="TeacherPath"/>; needs a <see cref="StudentPath"/> and the response loss.</summary>
    public Teachers.EndpointTeacherOptions? TeacherEndpoint { get; init; }
    /// <summary>Where the distilled student ONNX is written (atomically).</summary>
    public required string OutputPath { get; init; }

    /// <summary>The student's ONNX file (architecture, and its weights as the starting point unless <see cref="Reinitialize"/>).</summary>
    public string? StudentPath { get; init; }
    /// <summary>Derive the student from the teacher: hidden widths times this factor (with <see cref="StudentDepth"/>).</summary>
    public double? StudentWidth { get; init; }
    /// <summary>Derive the student from the teacher: number of hidden layers times this factor.</summary>
    public double? StudentDepth { get; init; }
    /// <summary>Derive the student from the teacher: FFN / hidden neuron widths times this factor (default: <see cref="StudentWidth"/>).</summary>
    public double? StudentFfnWidth { get; init; }
    /// <summary>Start from PyTorch's default initializers instead of the student file's weights (or, for a derived student, the teacher's).</summary>
    public bool Reinitialize { get; init; }

    /// <summary>Training inputs (.npy, or .npz with the array name after a colon: <c>data.npz:x</c>).</summary>
    public string? TrainingData { get; init; }
    /// <summary>int64 class labels, one per training row; none means pure KD on the teacher's outputs.</summary>
    public string? TrainingLabels { get; init; }
    /// <summary>How the data files are read (label column, image scaling, pad id); the teacher supplies the input shape.</summary>
    public Data.DataReadOptions? DataOptions { get; init; }
    /// <summary>Train on this many synthetic inputs generated from <see cref="TrainingData"/>'s samples and labelled by the teacher.</summary>
    public int? Synthetic { get; init; }
    /// <summary>Settings of the data-free generator used when <see cref="Synthetic"/> is set without <see cref="TrainingData"/>; null: its defaults.</summary>
    public Synthetic.DeepInversionOptions? DeepInversion { get; init; }

    public int Epochs { get; init; } = 20;
    public int BatchSize { get; init; } = 32;
    /// <summary>AdamW's peak learning rate; null: by kind of student (<see cref="LearningRateDefaults"/>).</summary>
    public double? LearningRate { get; init; }
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Fraction of all optimizer steps spent in linear warm-up before the cosine decay.</summary>
    public double WarmupFraction { get; init; } = 0.06;
    /// <summary>Maximum global gradient norm; null disables clipping.</summary>
    public double? GradientClipNorm { get; init; } = 1.0;

    public double Temperature { get; init; } = 4.0;
    public double Alpha { get; init; } = 0.9;
    /// <summary>Label smoothing of the cross-entropy on the true labels (the hard term); 0: none.</summary>
    public double LabelSmoothing { get; init; }
    public DistillationLossKind Loss { get; init; } = DistillationLossKind.Response;
    /// <summary>Feature loss: teacher:student tensor names.</summary>
    public IReadOnlyList<FeaturePair> FeaturePairs { get; init; } = Array.Empty<FeaturePair>();
    /// <summary>Relation loss: the tensor (teacher:student pair) whose batch structure is matched.</summary>
    public FeaturePair? RelationTensors { get; init; }
    public RelationKind RelationKind { get; init; } = RelationKind.DistanceAndAngle;
    /// <summary>Weight of the feature, relation or layer-wise term added to the response loss.</summary>
    public double AuxiliaryWeight { get; init; } = 1.0;

    /// <summary>Dropout rate while training on hidden linear-layer outputs and attention probabilities (see <see cref="Import.OnnxGraphModule.TrainingDropout"/>).</summary>
    public double Dropout { get; init; }

    /// <summary>
    /// Train a convolutional student with a BatchNorm after each Conv no normalization follows, folded into the Conv at
    /// export (<see cref="Students.TrainTimeBatchNorm"/>). Auto by default: a convolutional student from fresh weights (see docs/distillation.md).
    /// </summary>
    public Students.TrainBatchNormMode TrainBatchNorm { get; init; } = Students.TrainBatchNormMode.Auto;

    /// <summary>Quantization-aware distillation: int8 fake quantization (STE) of the student's weights while training.</summary>
    public bool QuantizationAware { get; init; }

    /// <summary>
    /// Fraction of the training rows held out for validation (a deterministic split by <see cref="Seed"/>): the epoch
    /// with the best agreement with the teacher on them (then the lowest validation loss) is the one written. 0: none,
    /// the last epoch is written (0.1 when only <see cref="EarlyStoppingPatience"/> is set).
    /// </summary>
    public double ValidationFraction { get; init; }
    /// <summary>
    /// Validation rows from this file instead of a split of the training rows (read like <see cref="TrainingData"/>; labels,
    /// if the file carries them, give the validation accuracy beside the agreement). Not with <see cref="ValidationFraction"/> above 0.
    /// </summary>
    public string? ValidationData { get; init; }
    /// <summary>
    /// Teacher-labelled variants of each training row, TinyBERT-style (<see cref="TokenAugmentation"/>); 0: none; null:
    /// by kind of student (<see cref="AugmentationDefaults"/>).
    /// </summary>
    public int? Augment { get; init; }
    /// <summary>Stop after this many epochs without a better validation score (the best epoch's weights are kept); null: run every epoch.</summary>
    public int? EarlyStoppingPatience { get; init; }
    /// <summary>Train this many students, with seeds <see cref="Seed"/>, Seed+1, ..., one after another, on the same data and split, and keep the best on validation. Needs a validation split.</summary>
    public int Seeds { get; init; } = 1;

    /// <summary>
    /// For a fixed-length token student (right-padded ids, PAD masked): bucket batches by length and cut each to its
    /// longest sequence, as PyTorch text-training loops do. Used only when the cut forward pass is verified to give the
    /// full-length outputs on the training data (see <see cref="Import.SequenceTruncation"/>); the exported graph is unchanged.
    /// </summary>
    public bool TruncateSequences { get; init; } = true;

    /// <summary>Run the student's decomposed LayerNorm/GELU subgraphs as single kernels while training (<see cref="Import.OperatorFusion"/>).</summary>
    public bool FuseOperators { get; init; } = true;

    public int Seed { get; init; }
    /// <summary>Intra-op threads for torch; null uses every core.</summary>
    public int? Threads { get; init; }
}
