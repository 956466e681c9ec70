namespace ModelBuild.Compression.RemoteCache;

/// <summary>
/// A remote cache problem, with its code, one line of cause and one of remedy (docs/diagnostics.md). In a build it is
/// always a warning: the cache never fails a build. The messages never hold a secret (SAS, key, connection string).
/// </summary>
public sealed class RemoteCacheException(string code, string cause, string remedy, Exception? inner = null)
    : ModelBuild.Onnx.Diagnostics.ModelBuildException(code, cause, remedy, null, inner);

/// <summary>The remote cache's codes (MB0620-MB0649 are this feature's range).</summary>
public static class RemoteCacheCodes
{
    /// <summary>ModelBuildRemoteCache is not one of the accepted forms.</summary>
    public const string BadLocation = "MB0620";
    /// <summary>The store did not answer (connection refused, DNS, time-out after the SDK's retries).</summary>
    public const string Unreachable = "MB0621";
    /// <summary>The store refused the credentials (401/403).</summary>
    public const string AccessDenied = "MB0622";
    /// <summary>The container or bucket does not exist.</summary>
    public const string ContainerMissing = "MB0623";
    /// <summary>The store throttled the requests (429/503) beyond the SDK's retries.</summary>
    public const string Throttled = "MB0624";
    /// <summary>A downloaded entry does not match its manifest (corrupted or truncated): discarded.</summary>
    public const string EntryCorrupt = "MB0625";
    /// <summary>A signing key is set and the entry is unsigned or signed with another key: ignored.</summary>
    public const string EntryUntrusted = "MB0626";
    /// <summary>A local cache entry's bytes no longer match its manifest: removed and rebuilt.</summary>
    public const string LocalEntryCorrupt = "MB0627";
    /// <summary>ModelBuildRemoteCacheMode is not ReadWrite, Read or Off.</summary>
    public const string BadMode = "MB0628";
    /// <summary>azblob:// without a connection string.</summary>
    public const string NoConnectionString = "MB0629";
    /// <summary>Any other failure the store reported.</summary>
    public const string StoreFailed = "MB0630";
}
