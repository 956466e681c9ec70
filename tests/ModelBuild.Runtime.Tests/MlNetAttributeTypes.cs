using Microsoft.ML.Data;

namespace ModelBuild.Runtime.Tests;

// Classes as an ML.NET user has them: ML.NET's own attributes, no ModelBuild attribute.
public sealed class MlNetWineInput
{
    [ColumnName("input"), VectorType(13)]
    public float[] Features { get; set; } = new float[13];

    [NoColumn]
    public string Comment { get; set; } = "ignored";
}

public sealed class MlNetWineScores
{
    [ColumnName("logits")]
    public float[] Scores { get; set; } = [];
}

// ML.NET samples often use public fields instead of properties.
public sealed class MlNetWineInputFields
{
    [ColumnName("input"), VectorType(13)]
    public float[] Features = new float[13];
}

public sealed class MlNetWineScoresFields
{
    [ColumnName("logits")]
    public float[] Scores = [];
}
