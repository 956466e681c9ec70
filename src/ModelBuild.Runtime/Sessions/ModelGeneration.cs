using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Runtime.Mapping;

namespace ModelBuild.Runtime.Sessions;

/// <summary>
/// One loaded version of a model: its InferenceSession (shared by all callers; Run is thread-safe), the checked
/// tensor map and the pool of per-call contexts. Reference counted: the model entry holds one reference while the
/// generation is current, every call/lease holds one more; the session is disposed when the count reaches zero,
/// so calls in flight during a hot reload finish on the generation they started on.
/// </summary>
internal sealed class ModelGeneration<TIn, TOut>
    where TIn : class
    where TOut : class, new()
{
    private const int MaxCachedBatchSizes = 8;
    private readonly ContextPool<InferenceContext<TIn, TOut>> _contexts;
    private readonly ConcurrentDictionary<int, ContextPool<InferenceContext<TIn, TOut>>> _batchContexts = new();
    private readonly int _poolSize;
    private readonly LiveSessionCounter _counter;
    private int _references = 1;

    public ModelGeneration(string modelName, long number, InferenceSession session, TensorMap<TIn, TOut> map,
        ModelInfo info, int poolSize, LiveSessionCounter counter)
    {
        ModelName = modelName;
        Number = number;
        Session = session;
        Map = map;
        Info = info;
        _poolSize = poolSize;
        _counter = counter;
        _contexts = new ContextPool<InferenceContext<TIn, TOut>>(poolSize, () => new InferenceContext<TIn, TOut>(this, 1));
        counter.Increment();
    }

    public string ModelName { get; }
    public long Number { get; }
    public InferenceSession Session { get; }
    public TensorMap<TIn, TOut> Map { get; }
    public ModelInfo Info { get; }
    public bool IsDisposed => Volatile.Read(ref _references) == 0;

    /// <summary>Takes a reference unless the generation has already been released by everyone.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            int current = Volatile.Read(ref _references);
            if (current == 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Release()
    {
        int remaining = Interlocked.Decrement(ref _references);
        if (remaining == 0)
        {
            _contexts.Dispose();
            foreach (var pool in _batchContexts.Values)
            {
                pool.Dispose();
            }
            Session.Dispose();
            _counter.Decrement();
        }
        else if (remaining < 0)
        {
            throw new InvalidOperationException($"Generation {Number} of model '{ModelName}' was released more often than acquired.");
        }
    }

    public InferenceContext<TIn, TOut> Rent() => _contexts.Rent();

    public void Return(InferenceContext<TIn, TOut> context) => _contexts.Return(context);

    public InferenceContext<TIn, TOut> RentBatch(int rows) => BatchPool(rows)?.Rent() ?? new InferenceContext<TIn, TOut>(this, rows);

    public void ReturnBatch(InferenceContext<TIn, TOut> context)
    {
        var pool = BatchPool(context.Rows);
        if (pool is null)
        {
            context.Dispose();
        }
        else
        {
            pool.Return(context);
        }
    }

    // Batch contexts are pooled per batch size for a few sizes (a server usually uses one or two), not for every size.
    private ContextPool<InferenceContext<TIn, TOut>>? BatchPool(int rows)
    {
        if (_batchContexts.TryGetValue(rows, out var pool))
        {
            return pool;
        }
        if (_batchContexts.Count >= MaxCachedBatchSizes)
        {
            return null;
        }
        return _batchContexts.GetOrAdd(rows, r => new ContextPool<InferenceContext<TIn, TOut>>(_poolSize, () => new InferenceContext<TIn, TOut>(this, r)));
    }
}

/// <summary>Counts sessions not yet disposed, so tests can prove old generations are released after a reload.</summary>
internal sealed class LiveSessionCounter
{
    private int _count;
    public int Count => Volatile.Read(ref _count);
    public void Increment() => Interlocked.Increment(ref _count);
    public void Decrement() => Interlocked.Decrement(ref _count);
}
