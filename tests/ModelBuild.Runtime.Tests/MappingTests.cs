using ModelBuild.Runtime.Tests.Support;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Runtime.Tests;

// ---- classes with one mistake each, against wine-mlp (input [N,13] float, logits [N,3] float) ----
public sealed class WrongColumnInput { [ColumnName("features"), VectorType(13)] public float[] Features { get; set; } = new float[13]; }
public sealed class WrongSizeInput { [ColumnName("input"), VectorType(12)] public float[] Features { get; set; } = new float[12]; }
public sealed class WrongTypeInput { [ColumnName("input"), VectorType(13)] public double[] Features { get; set; } = new double[13]; }
public sealed class NoInputMapped { public float[] Something { get; set; } = new float[13]; }
public sealed class DecimalInput { [ColumnName("input")] public decimal[] Features { get; set; } = []; }
public sealed class WrongOutputName { [ColumnName("scores")] public float[] Scores { get; set; } = []; }
public sealed class ScalarForVectorOutput { [ColumnName("logits")] public float Score { get; set; } }

// ---- identity models over each element type and shape ----
public sealed class DoubleMatrix { [ColumnName("x"), VectorType(2, 3)] public double[] X { get; set; } = []; }
public sealed class DoubleMatrixOut { [ColumnName("y"), VectorType(2, 3)] public double[] Y { get; set; } = []; }
public sealed class IntScalar { [ColumnName("x")] public int X { get; set; } }
public sealed class IntScalarOut { [ColumnName("y")] public int Y { get; set; } }
public sealed class LongVector { [ColumnName("x"), VectorType(4)] public long[] X { get; set; } = []; }
public sealed class LongVectorOut { [ColumnName("y")] public long[] Y { get; set; } = []; }
public sealed class BoolVector { public bool[] x { get; set; } = []; }
public sealed class BoolVectorOut { public bool[] y { get; set; } = []; }
public sealed class StringVector { [ColumnName("x"), VectorType(2)] public string[] X { get; set; } = []; }
public sealed class StringVectorOut { [ColumnName("y")] public string[] Y { get; set; } = []; }
public sealed class StringScalar { [ColumnName("x")] public string X { get; set; } = ""; }
public sealed class StringScalarOut { [ColumnName("y")] public string Y { get; set; } = ""; }
public sealed class FloatNoShape { [ColumnName("x")] public float[] X { get; set; } = []; }
public sealed class FloatNoShapeOut { [ColumnName("y")] public float[] Y { get; set; } = []; }
public sealed class FloatVector4 { [ColumnName("x"), VectorType(4)] public float[] X { get; set; } = []; }

public sealed class MappingTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly float[][] _rows = NpyReader.ReadFloat32Matrix(TestPaths.WineTestX);

    private static ModelRuntimeException LoadError<TIn, TOut>(string path, Action<PredictionEnginePoolOptions<TIn, TOut>>? configure = null)
        where TIn : class where TOut : class, new()
    {
        var options = new PredictionEnginePoolOptions<TIn, TOut>();
        configure?.Invoke(options);
        using var pool = new PredictionEnginePool<TIn, TOut>(options);
        return Assert.Throws<ModelRuntimeException>(() => pool.AddModelFromFile("m", path));
    }

    [Fact]
    public void Wrong_column_name_is_MB0702_naming_property_and_tensors()
    {
        var e = LoadError<WrongColumnInput, WineScores>(TestPaths.WineTeacher);
        Assert.Equal("MB0702", e.Code);
        Assert.Contains("WrongColumnInput.Features", e.Message);
        Assert.Contains("'features'", e.Message);
        Assert.Contains("input", e.Cause); // lists the model's inputs
        var output = LoadError<WineInput, WrongOutputName>(TestPaths.WineTeacher);
        Assert.Equal("MB0702", output.Code);
        Assert.Contains("logits", output.Cause);
    }

    [Fact]
    public void Wrong_vector_size_is_MB0704_with_expected_and_actual()
    {
        var e = LoadError<WrongSizeInput, WineScores>(TestPaths.WineTeacher);
        Assert.Equal("MB0704", e.Code);
        Assert.Contains("WrongSizeInput.Features", e.Message);
        Assert.Contains("'input'", e.Message);
        Assert.Contains("expected per-row shape [13]", e.Message);
        Assert.Contains("actual VectorType[12]", e.Message);
        var scalar = LoadError<WineInput, ScalarForVectorOutput>(TestPaths.WineTeacher);
        Assert.Equal("MB0704", scalar.Code);
        Assert.Contains("ScalarForVectorOutput.Score", scalar.Message);
    }

    [Fact]
    public void Wrong_element_type_is_MB0703_with_expected_and_actual()
    {
        var e = LoadError<WrongTypeInput, WineScores>(TestPaths.WineTeacher);
        Assert.Equal("MB0703", e.Code);
        Assert.Contains("WrongTypeInput.Features", e.Message);
        Assert.Contains("'input'", e.Message);
        Assert.Contains("expected element type Float (float), actual Double", e.Message);
    }

    [Fact]
    public void Unmapped_model_input_is_MB0707_and_unsupported_type_is_MB0705()
    {
        var missing = LoadError<NoInputMapped, WineScores>(TestPaths.WineTeacher);
        Assert.Equal("MB0707", missing.Code);
        Assert.Contains("'input'", missing.Message);
        // The skipped unattributed property is named: it is usually the one meant for the tensor.
        Assert.Contains("ignored, their names are no input: Something", missing.Cause);
        Assert.Contains("rename one of the ignored properties to 'input'", missing.Remedy);
        var unsupported = LoadError<DecimalInput, WineScores>(TestPaths.WineTeacher);
        Assert.Equal("MB0705", unsupported.Code);
        Assert.Contains("DecimalInput.Features", unsupported.Message);
    }

    [Fact]
    public void Missing_or_corrupt_file_is_MB0701()
    {
        string corrupt = _dir.File("corrupt.onnx");
        File.WriteAllBytes(corrupt, [1, 2, 3, 4, 5, 6, 7, 8]);
        var e = LoadError<WineInput, WineScores>(corrupt);
        Assert.Equal("MB0701", e.Code);
        Assert.Contains("corrupt.onnx", e.Message);
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>());
        var missing = Assert.Throws<ModelRuntimeException>(() => pool.AddModelFromFile("m", _dir.File("absent.onnx")));
        Assert.Equal("MB0701", missing.Code);
        Assert.Contains("absent.onnx' cannot be read: it does not exist", missing.Cause);
    }

    [Fact]
    public void Unknown_model_duplicate_model_and_wrong_input_length_are_MB0706_MB0712_MB0710()
    {
        using var pool = new PredictionEnginePool<WineInput, WineScores>(new PredictionEnginePoolOptions<WineInput, WineScores>());
        pool.AddModelFromFile("wine", TestPaths.WineStudent);
        Assert.Equal("MB0706", Assert.Throws<ModelRuntimeException>(() => pool.Predict("nope", new WineInput())).Code);
        Assert.Equal("MB0712", Assert.Throws<ModelRuntimeException>(() => pool.AddModelFromFile("wine", TestPaths.WineTeacher)).Code);
        var length = Assert.Throws<ModelRuntimeException>(() => pool.Predict("wine", new WineInput { Features = new float[12] }));
        Assert.Equal("MB0710", length.Code);
        Assert.Contains("12 elements", length.Message);
        // The context that threw is still usable.
        Assert.Equal(3, pool.Predict("wine", new WineInput { Features = _rows[0] }).Scores.Length);
    }

    [Fact]
    public void Unavailable_execution_provider_is_MB0713()
    {
        var e = LoadError<WineInput, WineScores>(TestPaths.WineStudent, o => o.Session.ExecutionProvider = "CUDA");
        Assert.Equal("MB0713", e.Code);
        Assert.Contains("CUDA", e.Message);
    }

    [Fact]
    public void Dynamic_non_batch_dimension_without_VectorType_is_MB0708_and_VectorType_resolves_it()
    {
        string path = TinyModels.Write(_dir, "dyn.onnx", TinyModels.Identity(DataType.Float, "N", "M"));
        var e = LoadError<FloatNoShape, FloatNoShapeOut>(path);
        Assert.Equal("MB0708", e.Code);
        Assert.Contains("FloatNoShape.X", e.Message);

        // With VectorType(4) the input is fixed; the output's unknown dimension is allocated by ONNX Runtime.
        using var pool = new PredictionEnginePool<FloatVector4, FloatNoShapeOut>(new PredictionEnginePoolOptions<FloatVector4, FloatNoShapeOut>());
        pool.AddModelFromFile("m", path);
        Assert.Equal([1f, 2f, 3f, 4f], pool.Predict("m", new FloatVector4 { X = [1, 2, 3, 4] }).Y);
        var batch = pool.PredictBatch("m", [new FloatVector4 { X = [1, 2, 3, 4] }, new FloatVector4 { X = [5, 6, 7, 8] }]);
        Assert.Equal([5f, 6f, 7f, 8f], batch[1].Y);
    }

    [Fact]
    public void Model_without_batch_axis_predicts_but_PredictBatch_is_MB0711()
    {
        string path = TinyModels.Write(_dir, "static.onnx", TinyModels.Identity(DataType.Float, 1, 4));
        using var pool = new PredictionEnginePool<FloatVector4, FloatNoShapeOut>(new PredictionEnginePoolOptions<FloatVector4, FloatNoShapeOut>());
        pool.AddModelFromFile("m", path);
        Assert.Equal([4f, 3f, 2f, 1f], pool.Predict("m", new FloatVector4 { X = [4, 3, 2, 1] }).Y);
        var e = Assert.Throws<ModelRuntimeException>(() => pool.PredictBatch("m", [new FloatVector4 { X = [1, 2, 3, 4] }]));
        Assert.Equal("MB0711", e.Code);
    }

    [Fact]
    public void Double_multi_dimensional_vector_round_trips()
    {
        using var pool = Pool<DoubleMatrix, DoubleMatrixOut>(TinyModels.Identity(DataType.Double, "N", 2, 3));
        double[] x = [1.5, -2.25, 3, 4, 5, 6e100];
        Assert.Equal(x, pool.Predict("m", new DoubleMatrix { X = x }).Y);
        Assert.Equal([-1L, 2L, 3L], pool.GetModelInfo("m").Inputs[0].Shape);
        // The wrong multi-dimensional shape is refused.
        var wrong = Assert.Throws<ModelRuntimeException>(() => Pool<DoubleMatrix, DoubleMatrixOut>(TinyModels.Identity(DataType.Double, "N", 3, 2)));
        Assert.Equal("MB0704", wrong.Code);
    }

    [Fact]
    public void Int_scalar_long_vector_and_bool_vector_round_trip()
    {
        using (var pool = Pool<IntScalar, IntScalarOut>(TinyModels.Identity(DataType.Int32, "N", 1)))
        {
            Assert.Equal(-42, pool.Predict("m", new IntScalar { X = -42 }).Y);
            var batch = pool.PredictBatch("m", [new IntScalar { X = 7 }, new IntScalar { X = 9 }]);
            Assert.Equal([7, 9], batch.Select(b => b.Y));
        }
        using (var pool = Pool<LongVector, LongVectorOut>(TinyModels.Identity(DataType.Int64, "N", 4)))
        {
            Assert.Equal([long.MinValue, 0, 1, long.MaxValue], pool.Predict("m", new LongVector { X = [long.MinValue, 0, 1, long.MaxValue] }).Y);
        }
        using (var pool = Pool<BoolVector, BoolVectorOut>(TinyModels.Identity(DataType.Bool, "N", 3)))
        {
            Assert.Equal([true, false, true], pool.Predict("m", new BoolVector { x = [true, false, true] }).y);
        }
    }

    [Fact]
    public void Strings_round_trip_as_scalars_vectors_and_batches()
    {
        using (var pool = Pool<StringVector, StringVectorOut>(TinyModels.Identity(DataType.String, "N", 2)))
        {
            Assert.Equal(["héllo", "wörld"], pool.Predict("m", new StringVector { X = ["héllo", "wörld"] }).Y);
            var batch = pool.PredictBatch("m", [new StringVector { X = ["a", "b"] }, new StringVector { X = ["c", "d"] }]);
            Assert.Equal(["c", "d"], batch[1].Y);
        }
        using (var pool = Pool<StringScalar, StringScalarOut>(TinyModels.Identity(DataType.String, "N")))
        {
            Assert.Equal("one", pool.Predict("m", new StringScalar { X = "one" }).Y);
        }
    }

    private PredictionEnginePool<TIn, TOut> Pool<TIn, TOut>(byte[] model) where TIn : class where TOut : class, new()
    {
        string path = TinyModels.Write(_dir, Guid.NewGuid().ToString("N") + ".onnx", model);
        var pool = new PredictionEnginePool<TIn, TOut>(new PredictionEnginePoolOptions<TIn, TOut>());
        try
        {
            pool.AddModelFromFile("m", path);
            return pool;
        }
        catch
        {
            pool.Dispose();
            throw;
        }
    }

    public void Dispose() => _dir.Dispose();
}
