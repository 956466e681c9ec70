namespace ModelBuild.Compression.Distillation;

/// <summary>One finished epoch, reported through <see cref="IProgress{T}"/>.</summary>
public sealed record DistillationProgress(
    int Epoch, int Epochs, double TrainLoss, double? ValidationScore, double LearningRate, TimeSpan Elapsed, TimeSpan EstimatedRemaining)
{
    public override string ToString() =>
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
    /// <summary>Validation accuracy (labels) or top-1 agreement with the teacher (no labels); null without a validation split.</summary>
    public double? ValidationScore { get; init; }
    public required long StudentParameters { get; init; }
    public required int TrainingSamples { get; init; }
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
    /// <summary>An endpoint teacher: requests made, batches answered from the answers cache, time; null for a teacher file.</summary>
    public Teachers.TeacherCalls? TeacherCalls { get; init; }
    /// <summary>Quantization-aware runs: the activation ranges observed while training (tensor -> [min, max]), fake-quantized with int8 parameters.</summary>
    public IReadOnlyDictionary<string, (float Min, float Max)>? ActivationRanges { get; init; }
}
