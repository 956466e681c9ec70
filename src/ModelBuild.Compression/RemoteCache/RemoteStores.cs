namespace ModelBuild.Compression.RemoteCache;

/// <summary>Opens the store a <see cref="RemoteCacheSettings"/> names.</summary>
public static class RemoteStores
{
    public static IRemoteCacheStore Open(RemoteCacheSettings settings) => settings.Service switch
    {
        RemoteCacheService.AzureBlob => new AzureBlobRemoteStore(settings),
        RemoteCacheService.S3 => new S3RemoteStore(settings),
        _ => throw new ArgumentOutOfRangeException(nameof(settings)),
    };
}
