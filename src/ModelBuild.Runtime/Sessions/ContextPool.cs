namespace ModelBuild.Runtime.Sessions;

/// <summary>
/// A bounded, lock-free pool of per-call contexts (the same scheme as Microsoft.Extensions.ObjectPool's
/// DefaultObjectPool: a fast first slot, then an array scanned with Interlocked.CompareExchange). Renting from an
/// empty pool creates a context; returning to a full pool disposes it, so at most <c>capacity</c> stay alive idle.
/// </summary>
internal sealed class ContextPool<T>(int capacity, Func<T> create) : IDisposable where T : class, IDisposable
{
    private readonly T?[] _items = new T?[Math.Max(0, capacity - 1)];
    private T? _first;

    public T Rent()
    {
        var item = _first;
        if (item is not null && Interlocked.CompareExchange(ref _first, null, item) == item)
        {
            return item;
        }
        var items = _items;
        for (int i = 0; i < items.Length; i++)
        {
            item = items[i];
            if (item is not null && Interlocked.CompareExchange(ref items[i], null, item) == item)
            {
                return item;
            }
        }
        return create();
    }

    public void Return(T item)
    {
        if (_first is null && Interlocked.CompareExchange(ref _first, item, null) is null)
        {
            return;
        }
        var items = _items;
        for (int i = 0; i < items.Length; i++)
        {
            if (Interlocked.CompareExchange(ref items[i], item, null) is null)
            {
                return;
            }
        }
        item.Dispose();
    }

    /// <summary>Disposes the idle contexts; only called once no context is rented (the generation's last lease is gone).</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _first, null)?.Dispose();
        for (int i = 0; i < _items.Length; i++)
        {
            Interlocked.Exchange(ref _items[i], null)?.Dispose();
        }
    }
}
