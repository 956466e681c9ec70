namespace ModelBuild.Compression.Distillation;

/// <summary>One finished epoch, reported through <see cref="IProgress{T}"/>.</summary>
public sealed record DistillationProgress(
    int Epoch, int Epochs, double TrainLoss, double? ValidationScore, double LearningRate, TimeSpan Elapsed, TimeSpan EstimatedRemaining)
{
    /// <summary>The student's seed when several are trained (<see cref="DistillationOptions.Seeds"/>); null for one.</summary>
    public int? Seed { get; init; }

    public override string ToString() => (Seed is { } seed ? $"seed {seed}: " : "") +
        $"epoch {Epoch}/{Epochs}: loss {TrainLoss:F4}" + (ValidationScore is { } v ? $", validation {v * 100:F2}%" : "")
        + $", lr {LearningRate:G3}, {Elapsed.TotalSeconds:F1}s, ETA {EstimatedRemaining.TotalSeconds:F0}s";
}

/// <summary>What a distillation run produced.</summary>
public sealed record DistillationResult
{
    public required string OutputPath { get; init; }
    public required int EpochsRun { get; init; }
    /// <summary>The epoch whose weights were written (the best validation epoch with early stopping, else the last).</summary>
    public required int SelectedEpoch { get; init; }
    public required double FinalTrainLoss { get; init; }
    /// <summary>The dropout rate trained with: the one asked for, or the default for the kind of student.</summary>
    public double Dropout { get; init; }
    /// <summary>The selection score: top-1 agreement with the teacher on the validation rows; null without a validation split.</summary>
    public double? ValidationScore { get; init; }
    /// <summary>Top-1 agreement with the teacher on the validation rows (= <see cref="ValidationScore"/>).</summary>
    public double? ValidationAgreement { get; init; }
    /// <summary>Accuracy on the validation rows' labels, when the training data has labels.</summary>
    public double? ValidationAccuracy { get; init; }
    /// <summary>Distillation loss against the teacher on the validation rows (the tie-break between equal agreements).</summary>
    public double? ValidationLoss { get; init; }
    public int ValidationSamples { get; init; }
    /// <summary>The seed of the student written.</summary>
    public int SelectedSeed { get; init; }
    /// <summary>Each student trained (one, or <see cref="DistillationOptions.Seeds"/>), in seed order.</summary>
    public IReadOnlyList<SeedRun>? SeedRuns { get; init; }
    public required long StudentParameters { get; init; }
    public required int TrainingSamples { get; init; }
    /// <summary>Teacher-labelled variants per training row: the number asked for, or the default for the kind of student.</summary>
    public int Augment { get; init; }
    /// <summary>The peak learning rate trained with: <c>--learning-rate</c>, or its default for this kind of student (<see cref="LearningRateDefaults"/>).</summary>
    public required double LearningRate { get; init; }
    /// <summary>Of <see cref="TrainingSamples"/>, the teacher-labelled variants <c>--augment</c> added.</summary>
    public int AugmentedSamples { get; init; }
    public required double TrainingSeconds { get; init; }
    /// <summary>Student training throughput (samples per second of optimizer work, excluding teacher precomputation).</summary>
    public double SamplesPerSecond => TrainingSeconds > 0 ? (double)TrainingSamples * EpochsRun / TrainingSeconds : 0;
    /// <summary>
    /// True for quantization-aware distillation: the written student is float (its weights trained through int8 fake
    /// quantization) and the pipeline must now run the quantization engine's int8 step on <see cref="OutputPath"/>.
    /// </summary>
    public bool NeedsInt8Step { get; init; }
    /// <summary>Whether batches were cut to their longest sequence (and why not): "on: ...", "off: reason".</summary>
    public string SequenceTruncation { get; init; } = "off";
    /// <summary>Decomposed LayerNorm/GELU subgraphs the student ran as single kernels while training.</summary>
    public int FusedOperators { get; init; }
    /// <summary>BatchNorms trained after the student's convolutions and folded into them at export (<see cref="DistillationOptions.TrainBatchNorm"/>).</summary>
    public int TrainTimeBatchNorms { get; init; }

    /// <summary>What <see cref="Students.DeadOutputRepair"/> did, one line per epoch before which it revived classes; empty when no class score was dead.</summary>
    public IReadOnlyList<string> RevivedOutputs { get; init; } = [];
    /// <summary>An endpoint teacher: requests made, batches answered from the answers cache, time; null for a teacher file.</summary>
    public Teachers.TeacherCalls? TeacherCalls { get; init; }
    /// <summary>How the student's weights started: PyTorch default initializers, the student file's, or the teacher's (what a derived student kept).</summary>
    public string? Initialization { get; init; }
    /// <summary>The layer-wise loss's map of student layers to teacher layers (<c>--loss layerwise</c>); null otherwise.</summary>
    public string? LayerMap { get; init; }
    /// <summary>Quantization-aware runs: the activation ranges observed while training (tensor -> [min, max]), fake-quantized with int8 parameters.</summary>
    public IReadOnlyDictionary<string, (float Min, float Max)>? ActivationRanges { get; init; }
}

/// <summary>One student of a run: its seed, epochs, the epoch kept and its validation figures.</summary>
public sealed record SeedRun(int Seed, int EpochsRun, int SelectedEpoch, double? ValidationAgreement, double? ValidationAccuracy, double? ValidationLoss, double TrainingSeconds);
