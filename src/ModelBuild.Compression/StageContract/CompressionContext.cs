using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.StageContract;

/// <summary>State shared by the stages of one pipeline run.</summary>
public sealed class CompressionContext
{
    public CompressionContext(CompressionRecipe recipe, string workDirectory, IWorkerLog log, ModelEvaluator evaluator)
    {
        Recipe = recipe;
        WorkDirectory = workDirectory;
        Log = log;
        Evaluator = evaluator;
        CurrentModel = recipe.Teacher;
    }

    public CompressionRecipe Recipe { get; }
    /// <summary>A private temp folder for intermediate models; deleted after the run.</summary>
    public string WorkDirectory { get; }
    public IWorkerLog Log { get; }
    /// <summary>Evaluation set with the teacher as reference (agreement and SQNR are against the teacher).</summary>
    public ModelEvaluator Evaluator { get; }
    /// <summary>The model the next stage starts from: the teacher, then each stage's output.</summary>
    public string CurrentModel { get; set; }
    public ModelFigures? TeacherFigures { get; set; }
    public ModelFigures? CurrentFigures { get; set; }
    public int Threads => Recipe.Threads ?? 1;
    public int LatencyRuns { get; init; } = LatencyMeter.DefaultRuns;
    /// <summary>The per-stage cache folder (<c>--stage-cache</c>), for stages that keep more than their output there (an endpoint teacher's answers); null: none.</summary>
    public string? StageCacheDirectory { get; init; }

    public string WorkPath(string fileName) => Path.Combine(WorkDirectory, fileName);
}
