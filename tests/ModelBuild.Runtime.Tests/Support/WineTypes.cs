namespace ModelBuild.Runtime.Tests.Support;

// Exactly the classes from the issue.
public sealed class WineInput { [ColumnName("input"), VectorType(13)] public float[] Features { get; set; } = new float[13]; }
public sealed class WineScores { [ColumnName("logits")] public float[] Scores { get; set; } = []; }
