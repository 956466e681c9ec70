namespace ModelBuild.Compression.RemoteCache;

/// <summary>
/// The few object-store operations the remote cache needs, implemented once per service with its own client library
/// (<see cref="AzureBlobRemoteStore"/>, <see cref="S3RemoteStore"/>). Names are relative to the configured prefix.
/// Every failure surfaces as a <see cref="RemoteCacheException"/> whose message holds no secret; retries and
/// time-outs are the SDK's retry policy, configured bounded by each store.
/// </summary>
public interface IRemoteCacheStore
{
    /// <summary>Where the store is, as logs may show it.</summary>
    string Display { get; }

    /// <summary>Creates the container if this kind of location asks for it (azblob:// with a connection string).</summary>
    Task PrepareAsync(CancellationToken cancellation);

    /// <summary>Copies the object into <paramref name="destination"/>; false (and nothing written) when it does not exist.</summary>
    Task<bool> TryDownloadAsync(string name, Stream destination, CancellationToken cancellation);

    /// <summary>The object's bytes, or null when it does not exist (for small objects: manifests).</summary>
    Task<byte[]?> TryReadAsync(string name, CancellationToken cancellation);

    /// <summary>Writes the object, replacing what is there (only used for content-addressed names, whose content is fixed by the name).</summary>
    Task UploadAsync(string name, string file, CancellationToken cancellation);

    /// <summary>Creates the object only if it does not exist (conditional create); false when another writer made it first.</summary>
    Task<bool> TryCreateAsync(string name, byte[] content, CancellationToken cancellation);

    Task<bool> ExistsAsync(string name, CancellationToken cancellation);

    /// <summary>The objects whose name starts with <paramref name="prefix"/>.</summary>
    IAsyncEnumerable<RemoteObject> ListAsync(string prefix, CancellationToken cancellation);

    Task DeleteAsync(string name, CancellationToken cancellation);
}

/// <summary>One stored object: its name relative to the prefix, size and last change.</summary>
public sealed record RemoteObject(string Name, long Bytes, DateTimeOffset LastModified);
