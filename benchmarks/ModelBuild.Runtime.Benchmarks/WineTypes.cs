namespace ModelBuild.Runtime.Benchmarks;

public sealed class WineInput { [ColumnName("input"), VectorType(13)] public float[] Features { get; set; } = new float[13]; }
public sealed class WineScores { [ColumnName("logits")] public float[] Scores { get; set; } = []; }

// The same classes for ML.NET's PredictionEngine (ML.NET's attributes).
public sealed class MlNetWineInput { [Microsoft.ML.Data.ColumnName("input"), Microsoft.ML.Data.VectorType(13)] public float[] Features { get; set; } = new float[13]; }
public sealed class MlNetWineScores { [Microsoft.ML.Data.ColumnName("logits"), Microsoft.ML.Data.VectorType(3)] public float[] Scores { get; set; } = []; }
