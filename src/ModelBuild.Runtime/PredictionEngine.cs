using ModelBuild.Runtime.Sessions;

namespace ModelBuild.Runtime;

/// <summary>
/// A prediction engine taken from the pool (<see cref="PredictionEnginePool{TIn,TOut}.GetPredictionEngine(string)"/>).
/// It is bound to one model generation and is not thread-safe; give it back with ReturnPredictionEngine or use a
/// lease. Like ML.NET's PredictionEngine, but running directly on ONNX Runtime.
/// </summary>
public sealed class PredictionEngine<TIn, TOut>
    where TIn : class
    where TOut : class, new()
{
    internal PredictionEngine(InferenceContext<TIn, TOut> context) => Context = context;

    internal InferenceContext<TIn, TOut> Context { get; }

    internal bool IsRented { get; set; }

    /// <summary>The generation (reload count) of the model this engine runs.</summary>
    public long Generation => Context.Generation.Number;

    public TOut Predict(TIn input)
    {
        var output = new TOut();
        Context.Run(input, output);
        return output;
    }

    /// <summary>Fills a caller-owned output (arrays of the right length are reused: no allocation).</summary>
    public void Predict(TIn input, TOut output) => Context.Run(input, output);

    /// <summary>ML.NET's signature: fills <paramref name="output"/>, creating it when null.</summary>
    public void Predict(TIn input, ref TOut? output)
    {
        output ??= new TOut();
        Context.Run(input, output);
    }
}

/// <summary>A pooled engine that goes back to the pool when disposed: <c>using var lease = pool.LeaseEngine("m");</c></summary>
public readonly struct PredictionEngineLease<TIn, TOut> : IDisposable
    where TIn : class
    where TOut : class, new()
{
    private readonly PredictionEnginePool<TIn, TOut> _pool;

    internal PredictionEngineLease(PredictionEnginePool<TIn, TOut> pool, string modelName, PredictionEngine<TIn, TOut> engine)
    {
        _pool = pool;
        ModelName = modelName;
        Engine = engine;
    }

    public string ModelName { get; }

    public PredictionEngine<TIn, TOut> Engine { get; }

    public TOut Predict(TIn input) => Engine.Predict(input);

    public void Predict(TIn input, TOut output) => Engine.Predict(input, output);

    public void Dispose() => _pool?.ReturnPredictionEngine(ModelName, Engine);
}
