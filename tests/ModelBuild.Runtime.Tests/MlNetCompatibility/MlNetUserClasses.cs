// Classes as an ML.NET app has them, declared OUTSIDE the ModelBuild.Runtime namespace and with fully qualified
// attribute names, so every attribute here is ML.NET's own (Microsoft.ML.Data.*) and none can bind to
// ModelBuild.Runtime's look-alikes. MlNetCompatibilityTests checks that this stays true.
namespace MlNetApp;

public sealed class MlNetWineInput
{
    [Microsoft.ML.Data.ColumnName("input"), Microsoft.ML.Data.VectorType(13)]
    public float[] Features { get; set; } = new float[13];

    [Microsoft.ML.Data.NoColumn]
    public string Comment { get; set; } = "ignored";
}

public sealed class MlNetWineScores
{
    [Microsoft.ML.Data.ColumnName("logits")]
    public float[] Scores { get; set; } = [];

    // ML.NET output classes often carry extra members the model does not produce.
    [Microsoft.ML.Data.NoColumn]
    public string? PredictedLabel { get; set; }
}

// ML.NET samples often use public fields instead of properties.
public sealed class MlNetWineInputFields
{
    [Microsoft.ML.Data.ColumnName("input"), Microsoft.ML.Data.VectorType(13)]
    public float[] Features = new float[13];
}

public sealed class MlNetWineScoresFields
{
    [Microsoft.ML.Data.ColumnName("logits")]
    public float[] Scores = [];
}

// A text-loader row class (LoadColumn), as the ML.NET samples declare one for training and reuse for prediction:
// the label column has no ColumnName and is not a model input, so it is ignored like ML.NET ignores it.
public sealed class MlNetWineRow
{
    [Microsoft.ML.Data.LoadColumn(1, 13), Microsoft.ML.Data.VectorType(13), Microsoft.ML.Data.ColumnName("input")]
    public float[] Features { get; set; } = new float[13];

    [Microsoft.ML.Data.LoadColumn(0)]
    public float Label { get; set; }
}

// VectorType's params int[] constructor (several dimensions) and a scalar column, on a [N,2,3] double identity model.
public sealed class MlNetDoubleMatrix
{
    [Microsoft.ML.Data.ColumnName("x"), Microsoft.ML.Data.VectorType(2, 3)]
    public double[] Values { get; set; } = [];
}

public sealed class MlNetDoubleMatrixOut
{
    [Microsoft.ML.Data.ColumnName("y"), Microsoft.ML.Data.VectorType(2, 3)]
    public double[] Values { get; set; } = [];
}

// The shape declared through VectorType is checked against the model: 12 is wrong for wine's 13 features.
public sealed class MlNetWrongSizeInput
{
    [Microsoft.ML.Data.ColumnName("input"), Microsoft.ML.Data.VectorType(12)]
    public float[] Features { get; set; } = new float[12];
}
