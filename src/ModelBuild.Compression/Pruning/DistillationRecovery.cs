using ModelBuild.Compression.Distillation;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Recovery by knowledge distillation (Sheared-LLaMA / Minitron style): the pruned model is the student, its
/// pruned weights the initialization, the original unpruned model the teacher, trained with
/// <see cref="StudentDistiller"/> on the training data (or on synthetic data generated from it).
/// </summary>
public sealed class DistillationRecovery : IPruningRecovery
{
    private readonly string _teacherPath;
    private readonly string _trainingData;
    private readonly string? _trainingLabels;
    private readonly RecoveryTraining _training;

    /// <param name="teacherPath">The original, unpruned model (ONNX file).</param>
    /// <param name="trainingData">Training inputs (.npy); labels are optional (pure KD without them).</param>
    /// <param name="training">Epochs, batch size, learning rate and the rest of the short distillation run.</param>
    public DistillationRecovery(string teacherPath, string trainingData, string? trainingLabels = null, RecoveryTraining? training = null)
    {
        _teacherPath = teacherPath;
        _trainingData = trainingData;
        _trainingLabels = trainingLabels;
        _training = training ?? new RecoveryTraining();
    }

    public string Description => $"distillation from {Path.GetFileName(_teacherPath)} on {Path.GetFileName(_trainingData)}";

    public DistillationResult? LastRun { get; private set; }

    public IReadOnlyList<string> LastRevivedOutputs => LastRun?.RevivedOutputs ?? [];

    public OnnxModel Recover(OnnxModel pruned, int step)
    {
        string folder = Path.Combine(Path.GetTempPath(), "modelbuild-prune-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string student = Path.Combine(folder, $"pruned-step{step}.onnx");
            string output = Path.Combine(folder, $"recovered-step{step}.onnx");
            // The distiller generalizes a fixed batch of 1 for training and writes the batch-1 interface back.
            pruned.Save(student);
            var options = new DistillationOptions
            {
                TeacherPath = _teacherPath,
                StudentPath = student,
                OutputPath = output,
                TrainingData = _trainingData,
                TrainingLabels = _trainingLabels,
                Epochs = _training.Epochs,
                BatchSize = _training.BatchSize,
                LearningRate = _training.LearningRate,
                Temperature = _training.Temperature,
                Alpha = _training.Alpha,
                Synthetic = _training.Synthetic,
                DataOptions = _training.DataOptions,
                Threads = _training.Threads,
                Seed = _training.Seed + step,
            };
            LastRun = StudentDistiller.Distill(options);
            return OnnxModel.Load(File.ReadAllBytes(output), folder, pruned.FilePath);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

/// <summary>Settings of each recovery run (a short distillation; defaults suit small tabular models).</summary>
public sealed record RecoveryTraining
{
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 1e-3;
    public double Temperature { get; init; } = 4.0;
    public double Alpha { get; init; } = 0.9;
    /// <summary>Train on this many synthetic inputs generated from the training data (<c>--synthetic</c>).</summary>
    public int? Synthetic { get; init; }
    public int? Threads { get; init; }
    public int Seed { get; init; }
    /// <summary>How the training data is read (label column, image scaling, pad id).</summary>
    public Data.DataReadOptions? DataOptions { get; init; }
}
