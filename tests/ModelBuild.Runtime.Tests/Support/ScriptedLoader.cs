using Microsoft.Extensions.Primitives;

namespace ModelBuild.Runtime.Tests.Support;

/// <summary>A model source the test drives: each read returns (or throws) what the script gives for its number (1, 2, ...).</summary>
internal sealed class ScriptedLoader(Func<int, byte[]> read) : ModelLoader
{
    private CancellationTokenSource _changed = new();
    private int _reads;

    public int Reads => Volatile.Read(ref _reads);

    public override string Source => "scripted";

    public override ValueTask<byte[]> ReadModelAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(read(Interlocked.Increment(ref _reads)));

    public override IChangeToken GetReloadToken() => new CancellationChangeToken(_changed.Token);

    /// <summary>Signals a source change, as a file watcher or a URI poll does.</summary>
    public void Fire() => Interlocked.Exchange(ref _changed, new CancellationTokenSource()).Cancel();
}
