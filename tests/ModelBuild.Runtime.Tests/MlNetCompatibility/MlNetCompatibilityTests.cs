using System.Reflection;
using MlNetApp;
using ModelBuild.Runtime.Tests.Support;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Runtime.Tests.MlNetCompatibility;

/// <summary>
/// Input/output classes written for ML.NET (Microsoft.ML.Data attributes, no ModelBuild attribute) work unchanged.
/// The classes live in MlNetUserClasses.cs, outside our namespace.
/// </summary>
public sealed class MlNetCompatibilityTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly float[][] _rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);

    public void Dispose() => _dir.Dispose();

    private static PredictionEnginePool<TIn, TOut> Pool<TIn, TOut>(string path) where TIn : class where TOut : class, new()
    {
        var pool = new PredictionEnginePool<TIn, TOut>(new PredictionEnginePoolOptions<TIn, TOut>());
        pool.AddModelFromFile("m", path);
        return pool;
    }

    [Fact]
    public void The_test_classes_carry_only_MlNet_attributes()
    {
        // Guards the test itself: if these bound to ModelBuild.Runtime's attributes, the tests below would prove nothing.
        var mlNet = typeof(Microsoft.ML.Data.ColumnNameAttribute).Assembly;
        var members = typeof(MlNetWineInput).Assembly.GetTypes().Where(t => t.Namespace == "MlNetApp")
            .SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.Instance)).ToList();
        var attributes = members.SelectMany(m => m.GetCustomAttributes(inherit: true))
            .Where(a => a.GetType().Namespace is not "System.Runtime.CompilerServices").ToList();
        Assert.NotEmpty(attributes);
        Assert.All(attributes, a => Assert.Same(mlNet, a.GetType().Assembly));
        Assert.Contains(attributes, a => a is Microsoft.ML.Data.ColumnNameAttribute);
        Assert.Contains(attributes, a => a is Microsoft.ML.Data.VectorTypeAttribute);
        Assert.Contains(attributes, a => a is Microsoft.ML.Data.NoColumnAttribute);
        Assert.Contains(attributes, a => a is Microsoft.ML.Data.LoadColumnAttribute);
        // The reason ML.NET's attributes must be read from constructor arguments: Name is not public.
        Assert.Null(typeof(Microsoft.ML.Data.ColumnNameAttribute).GetProperty("Name", BindingFlags.Public | BindingFlags.Instance));
    }

    [Fact]
    public void ColumnName_VectorType_and_NoColumn_properties_map_and_predict()
    {
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, _rows[..2]);
        using var pool = Pool<MlNetWineInput, MlNetWineScores>(TestPaths.WineTeacher);
        Assert.Equal(expected[0], pool.Predict("m", new MlNetWineInput { Features = _rows[0] }).Scores);
        Assert.Equal(expected[1], pool.Predict("m", new MlNetWineInput { Features = _rows[1] }).Scores);
    }

    [Fact]
    public void Public_fields_work_and_the_output_array_is_reused()
    {
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, _rows[..2]);
        using var pool = Pool<MlNetWineInputFields, MlNetWineScoresFields>(TestPaths.WineTeacher);
        var output = new MlNetWineScoresFields();
        pool.Predict("m", new MlNetWineInputFields { Features = _rows[0] }, output);
        var array = output.Scores;
        Assert.Equal(expected[0], output.Scores);
        pool.Predict("m", new MlNetWineInputFields { Features = _rows[1] }, output);
        Assert.Same(array, output.Scores);
        Assert.Equal(expected[1], output.Scores);
    }

    [Fact]
    public void LoadColumn_row_classes_map_and_their_label_is_ignored()
    {
        var expected = DirectOnnxRuntime.PredictRows(TestPaths.WineTeacher, _rows[..1]);
        using var pool = Pool<MlNetWineRow, MlNetWineScores>(TestPaths.WineTeacher);
        Assert.Equal(expected[0], pool.Predict("m", new MlNetWineRow { Features = _rows[0], Label = 2 }).Scores);
    }

    [Fact]
    public void VectorType_with_several_dimensions_is_read()
    {
        string path = TinyModels.Write(_dir, "matrix.onnx", TinyModels.Identity(DataType.Double, "N", 2, 3));
        using var pool = Pool<MlNetDoubleMatrix, MlNetDoubleMatrixOut>(path);
        double[] x = [1, 2, 3, 4, 5, 6];
        Assert.Equal(x, pool.Predict("m", new MlNetDoubleMatrix { Values = x }).Values);
        // [2,3] is read as two dimensions: the same class against a [N,3,2] model is a shape mismatch.
        string transposed = TinyModels.Write(_dir, "transposed.onnx", TinyModels.Identity(DataType.Double, "N", 3, 2));
        var e = Assert.Throws<ModelRuntimeException>(() => Pool<MlNetDoubleMatrix, MlNetDoubleMatrixOut>(transposed));
        Assert.Equal("MB0704", e.Code);
    }

    [Fact]
    public void A_wrong_VectorType_size_is_MB0704_naming_the_property()
    {
        var e = Assert.Throws<ModelRuntimeException>(() => Pool<MlNetWrongSizeInput, MlNetWineScores>(TestPaths.WineTeacher));
        Assert.Equal("MB0704", e.Code);
        Assert.Contains("MlNetWrongSizeInput.Features", e.Message);
    }
}
