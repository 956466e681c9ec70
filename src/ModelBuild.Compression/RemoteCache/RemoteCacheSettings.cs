namespace ModelBuild.Compression.RemoteCache;

/// <summary>Whether the remote cache is read, read and written, or not used.</summary>
public enum RemoteCacheMode { Off, Read, ReadWrite }

/// <summary>Which service a <see cref="RemoteCacheSettings"/> names.</summary>
public enum RemoteCacheService { AzureBlob, S3 }

/// <summary>
/// The remote cache's configuration, parsed from the strings users give (<c>ModelBuildRemoteCache</c>,
/// <c>--remote-cache</c>):
/// <list type="bullet">
/// <item><c>https://&lt;account&gt;.blob.core.windows.net/&lt;container&gt;[/prefix][?SAS]</c> (also an emulator's
/// <c>http://127.0.0.1:&lt;port&gt;/&lt;account&gt;/&lt;container&gt;</c>): the SAS if there is one, else DefaultAzureCredential;</item>
/// <item><c>azblob://&lt;container&gt;[/prefix]</c>: the account from a connection string
/// (<c>ModelBuildRemoteCacheConnectionString</c>, else <c>AZURE_STORAGE_CONNECTION_STRING</c>); the container is created if missing;</item>
/// <item><c>s3://&lt;bucket&gt;[/prefix]</c>: AWS's default credential chain, <c>AWS_ENDPOINT_URL</c> honoured.</item>
/// </list>
/// Secrets (SAS, connection string, signing key) are kept here and never put into <see cref="Display"/>, which is what
/// logs and reports show.
/// </summary>
public sealed class RemoteCacheSettings
{
    /// <summary>The environment variables the task hands the settings over in (never the command line, which is logged).</summary>
    public const string LocationVariable = "ModelBuildRemoteCache";
    public const string ConnectionStringVariable = "ModelBuildRemoteCacheConnectionString";
    public const string SigningKeyVariable = "ModelBuildRemoteCacheSigningKey";
    public const string AzureConnectionStringVariable = "AZURE_STORAGE_CONNECTION_STRING";

    public required RemoteCacheService Service { get; init; }
    /// <summary>Container or bucket.</summary>
    public required string Container { get; init; }
    /// <summary>Folder inside the container, without leading or trailing '/'; may be empty.</summary>
    public required string Prefix { get; init; }
    /// <summary>For https/http locations: the container's URI without query (the SAS is in <see cref="SasQuery"/>).</summary>
    public Uri? ContainerUri { get; init; }
    public string? SasQuery { get; init; }
    public string? ConnectionString { get; init; }
    public string? SigningKey { get; init; }
    /// <summary>The location as logs may show it: no SAS, no connection string.</summary>
    public required string Display { get; init; }

    /// <summary>
    /// Parses a location. <paramref name="connectionString"/> is the explicit one (property or option); the
    /// environment's <c>ModelBuildRemoteCacheConnectionString</c>/<c>AZURE_STORAGE_CONNECTION_STRING</c> follow.
    /// Throws <see cref="RemoteCacheException"/> (MB0620/MB0629) when the text is not one of the forms.
    /// </summary>
    public static RemoteCacheSettings Parse(string location, string? connectionString = null, string? signingKey = null)
    {
        location = location.Trim();
        var signing = string.IsNullOrEmpty(signingKey) ? null : signingKey;
        if (!Uri.TryCreate(location, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host) && uri.Scheme is not ("azblob" or "s3"))
            throw BadLocation(location, "it is not an absolute URL");

        switch (uri.Scheme)
        {
            case "https" or "http":
            {
                var builder = new Azure.Storage.Blobs.BlobUriBuilder(uri);
                if (string.IsNullOrEmpty(builder.BlobContainerName)) throw BadLocation(location, "it names no container");
                var sas = uri.Query.Length > 1 ? uri.Query[1..] : null;
                var containerUri = new Azure.Storage.Blobs.BlobUriBuilder(uri) { BlobName = "", Sas = null, Query = null }.ToUri();
                var prefix = (builder.BlobName ?? "").Trim('/');
                return new RemoteCacheSettings
                {
                    Service = RemoteCacheService.AzureBlob, Container = builder.BlobContainerName, Prefix = prefix,
                    ContainerUri = containerUri, SasQuery = sas, SigningKey = signing,
                    Display = containerUri.GetLeftPart(UriPartial.Path).TrimEnd('/') + (prefix.Length > 0 ? "/" + prefix : "") + (sas is null ? "" : " (SAS)"),
                };
            }
            case "azblob":
            {
                var connection = FirstNonEmpty(connectionString, Environment.GetEnvironmentVariable(ConnectionStringVariable), Environment.GetEnvironmentVariable(AzureConnectionStringVariable))
                    ?? throw new RemoteCacheException(RemoteCacheCodes.NoConnectionString,
                        $"The remote cache '{location}' is an azblob:// location but no connection string is set.",
                        $"Set ModelBuildRemoteCacheConnectionString (property or environment variable) or {AzureConnectionStringVariable}, or use the https://<account>.blob.core.windows.net/<container> form.");
                var (container, prefix) = SplitHostAndPath(location, uri);
                return new RemoteCacheSettings
                {
                    Service = RemoteCacheService.AzureBlob, Container = container, Prefix = prefix, ConnectionString = connection, SigningKey = signing,
                    Display = $"azblob://{container}{(prefix.Length > 0 ? "/" + prefix : "")}",
                };
            }
            case "s3":
            {
                var (bucket, prefix) = SplitHostAndPath(location, uri);
                return new RemoteCacheSettings
                {
                    Service = RemoteCacheService.S3, Container = bucket, Prefix = prefix, SigningKey = signing,
                    Display = $"s3://{bucket}{(prefix.Length > 0 ? "/" + prefix : "")}",
                };
            }
            default:
                throw BadLocation(location, $"the scheme '{uri.Scheme}' is not https, azblob or s3");
        }
    }

    /// <summary>Parses <c>ModelBuildRemoteCacheMode</c>; empty means the default: ReadWrite when <c>CI</c> is set, else Read.</summary>
    public static RemoteCacheMode ParseMode(string? text, string? ciVariable)
    {
        if (string.IsNullOrWhiteSpace(text))
            return !string.IsNullOrWhiteSpace(ciVariable) && !string.Equals(ciVariable.Trim(), "false", StringComparison.OrdinalIgnoreCase) ? RemoteCacheMode.ReadWrite : RemoteCacheMode.Read;
        return text.Trim().ToLowerInvariant() switch
        {
            "off" or "none" => RemoteCacheMode.Off,
            "read" => RemoteCacheMode.Read,
            "readwrite" or "read-write" => RemoteCacheMode.ReadWrite,
            _ => throw new RemoteCacheException(RemoteCacheCodes.BadMode,
                $"ModelBuildRemoteCacheMode '{text}' is not ReadWrite, Read or Off.", "Set ModelBuildRemoteCacheMode (or --remote-cache-mode) to ReadWrite, Read or Off."),
        };
    }

    private static (string Container, string Prefix) SplitHostAndPath(string location, Uri uri)
    {
        // The container/bucket is the URI's "host"; Uri lower-cases hosts, which both services require anyway.
        var container = uri.Host;
        if (container.Length == 0) throw BadLocation(location, "it names no container or bucket");
        return (container, Uri.UnescapeDataString(uri.AbsolutePath).Trim('/'));
    }

    private static string? FirstNonEmpty(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));

    private static RemoteCacheException BadLocation(string location, string why)
    {
        // The text may carry a SAS: show only what precedes the query.
        var shown = location.Split('?')[0];
        return new RemoteCacheException(RemoteCacheCodes.BadLocation, $"The remote cache location '{shown}' is not usable: {why}.",
            "Set ModelBuildRemoteCache (or --remote-cache) to https://<account>.blob.core.windows.net/<container>[/prefix], azblob://<container>[/prefix] or s3://<bucket>[/prefix].");
    }
}
