using Microsoft.Extensions.Primitives;

namespace ModelBuild.Runtime.Loading;

/// <summary>A resettable change token source: each <see cref="Fire"/> cancels the current token and starts a new one.</summary>
internal sealed class ReloadSignal : IDisposable
{
    private CancellationTokenSource _source = new();

    public IChangeToken Token => new CancellationChangeToken(Volatile.Read(ref _source).Token);

    public void Fire()
    {
        var previous = Interlocked.Exchange(ref _source, new CancellationTokenSource());
        // Not disposed: a reader may still be reading its Token; a CancellationTokenSource without timers holds nothing native.
        previous.Cancel();
    }

    public void Dispose() => Volatile.Read(ref _source).Dispose();
}
