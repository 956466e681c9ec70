using Microsoft.Extensions.Primitives;

namespace ModelBuild.Runtime;

/// <summary>
/// Where a model's bytes come from and when they change (the role of Microsoft.Extensions.ML's ModelLoader).
/// The pool reads the bytes, hashes them, builds a new generation and swaps it in when the reload token fires.
/// </summary>
public abstract class ModelLoader : IDisposable
{
    /// <summary>A description of the source (file path or URI) for logs and <see cref="ModelInfo"/>.</summary>
    public abstract string Source { get; }

    /// <summary>The model bytes; throws when they cannot be read (the pool retries until its reload timeout).</summary>
    public abstract ValueTask<byte[]> ReadModelAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Session settings recorded for the model by `modelbuild compress` (a file loader reads <c>&lt;model&gt;.session.json</c>
    /// beside the model), or null. Read at every (re)load, so a deploy can change them with the model.
    /// </summary>
    public virtual ValueTask<RecordedSessionSettings?> ReadSessionSettingsAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<RecordedSessionSettings?>(null);

    /// <summary>A token that fires when the source has changed.</summary>
    public abstract IChangeToken GetReloadToken();

    /// <summary>Called once the first generation is loaded, so watching/polling starts after the initial load.</summary>
    public virtual void Start()
    {
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}
