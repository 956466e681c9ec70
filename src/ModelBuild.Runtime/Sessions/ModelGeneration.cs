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
    private readonly ContextPool<InferenceContext<TIn, TOut>>? _soloContexts;
    private int _references = 1;
    private int _inFlight;

    /// <param name="soloSession">
    /// A second session with more intra-op threads (the model's recorded settings), used by a call that starts while no
    /// other call of this generation is in flight; overlapping calls use <paramref name="session"/> (one thread), so
    /// concurrent callers never share cores with a multi-threaded run beyond the one solo call. Null: one session.
    /// </param>
    public ModelGeneration(string modelName, long number, InferenceSession session, TensorMap<TIn, TOut> map,
        ModelInfo info, int poolSize, LiveSessionCounter counter, InferenceSession? soloSession = null)
    {
        SoloSession = soloSession;
        if (soloSession is not null)
        {
            _soloContexts = new ContextPool<InferenceContext<TIn, TOut>>(1, () => new InferenceContext<TIn, TOut>(this, 1, soloSession));
        }
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
    public InferenceSession? SoloSession { get; }
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
            _soloContexts?.Dispose();
            SoloSession?.Dispose();
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

    /// <summary>A context for one call: the solo session's when no other call is in flight (and there is one), else a one-thread one.</summary>
    public InferenceContext<TIn, TOut> Rent()
    {
        if (_soloContexts is null)
        {
            return _contexts.Rent();
        }
        // Exactly one caller can move the count from 0 to 1 while nobody else holds a context, so at most one solo run at a time.
        return Interlocked.Increment(ref _inFlight) == 1 ? _soloContexts.Rent() : _contexts.Rent();
    }

    public void Return(InferenceContext<TIn, TOut> context)
    {
        if (_soloContexts is null)
        {
            _contexts.Return(context);
            return;
        }
        (context.IsSolo ? _soloContexts : _contexts).Return(context);
        Interlocked.Decrement(ref _inFlight);
    }

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
