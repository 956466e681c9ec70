using Microsoft.Extensions.Primitives;

namespace ModelBuild.Runtime.Tests.Support;

/// <summary>
/// A model source the test drives: each read returns (or throws) what the script gives for its number (1, 2, ...), and
/// the session settings beside it what <paramref name="settings"/> gives for the number of the read before (none by default).
/// </summary>
internal sealed class ScriptedLoader(Func<int, byte[]> read, Func<int, RecordedSessionSettings?>? settings = null) : ModelLoader
{
    private CancellationTokenSource _changed = new();
    private int _reads;

    public int Reads => Volatile.Read(ref _reads);

    public override string Source => "scripted";

    public override ValueTask<byte[]> ReadModelAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(read(Interlocked.Increment(ref _reads)));

    public override ValueTask<RecordedSessionSettings?> ReadSessionSettingsAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(settings?.Invoke(Reads));

    public override IChangeToken GetReloadToken() => new CancellationChangeToken(_changed.Token);

    /// <summary>Signals a source change, as a file watcher or a URI poll does.</summary>
    public void Fire() => Interlocked.Exchange(ref _changed, new CancellationTokenSource()).Cancel();
}
