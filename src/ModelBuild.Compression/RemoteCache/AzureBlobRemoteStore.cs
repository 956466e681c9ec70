using System.Runtime.CompilerServices;
using Azure;
using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ModelBuild.Compression.RemoteCache;

/// <summary>
/// The remote cache on Azure Blob Storage (Azure.Storage.Blobs): a SAS or DefaultAzureCredential for https locations,
/// a connection string for azblob:// ones. Conditional create is an upload with If-None-Match: *.
/// </summary>
public sealed class AzureBlobRemoteStore : IRemoteCacheStore
{
    private readonly BlobContainerClient container;
    private readonly string prefix;
    private readonly bool createContainer;

    public string Display { get; }

    /// <param name="transport">Tests substitute the HTTP transport to see how the store answers throttling and errors.</param>
    public AzureBlobRemoteStore(RemoteCacheSettings settings, Azure.Core.Pipeline.HttpPipelineTransport? transport = null)
    {
        var options = new BlobClientOptions();
        if (transport is not null) options.Transport = transport;
        // Bounded: a store that does not answer costs at most a few tries of NetworkTimeout each, then one warning.
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(400);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(4);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(30);
        // The SDK's own diagnostics (request URLs with a SAS in them) go nowhere: we log only our own lines.
        options.Diagnostics.IsLoggingEnabled = false;
        options.Diagnostics.IsDistributedTracingEnabled = false;

        if (settings.ConnectionString is { } connection)
        {
            container = new BlobContainerClient(connection, settings.Container, options);
            createContainer = true;
        }
        else if (settings.SasQuery is { } sas)
        {
            container = new BlobContainerClient(settings.ContainerUri!, new AzureSasCredential(sas), options);
        }
        else
        {
            container = new BlobContainerClient(settings.ContainerUri!, new DefaultAzureCredential(), options);
        }
        prefix = settings.Prefix.Length > 0 ? settings.Prefix + "/" : "";
        Display = settings.Display;
    }

    public Task PrepareAsync(CancellationToken cancellation) => Guard(async () =>
    {
        if (createContainer) await container.CreateIfNotExistsAsync(cancellationToken: cancellation).ConfigureAwait(false);
        return true;
    });

    public Task<bool> TryDownloadAsync(string name, Stream destination, CancellationToken cancellation) => Guard(async () =>
    {
        try
        {
            var response = await container.GetBlobClient(prefix + name).DownloadToAsync(destination, cancellation).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobNotFound)
        {
            return false;
        }
    });

    public Task<byte[]?> TryReadAsync(string name, CancellationToken cancellation) => Guard(async () =>
    {
        try
        {
            var content = await container.GetBlobClient(prefix + name).DownloadContentAsync(cancellation).ConfigureAwait(false);
            return content.Value.Content.ToArray();
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobNotFound)
        {
            return (byte[]?)null;
        }
    });

    public Task UploadAsync(string name, string file, CancellationToken cancellation) => Guard(async () =>
    {
        await container.GetBlobClient(prefix + name).UploadAsync(file, overwrite: true, cancellation).ConfigureAwait(false);
        return true;
    });

    public Task<bool> TryCreateAsync(string name, byte[] content, CancellationToken cancellation) => Guard(async () =>
    {
        try
        {
            var conditions = new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } };
            await container.GetBlobClient(prefix + name).UploadAsync(new BinaryData(content), conditions, cancellation).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return false; // BlobAlreadyExists / ConditionNotMet: the first writer won
        }
    });

    public Task<bool> ExistsAsync(string name, CancellationToken cancellation) => Guard(async () =>
        (bool)await container.GetBlobClient(prefix + name).ExistsAsync(cancellation).ConfigureAwait(false));

    public async IAsyncEnumerable<RemoteObject> ListAsync(string namePrefix, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var pages = container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix + namePrefix }, cancellation).AsPages().GetAsyncEnumerator(cancellation);
        try
        {
            while (true)
            {
                Page<BlobItem> page;
                try
                {
                    if (!await pages.MoveNextAsync().ConfigureAwait(false)) yield break;
                    page = pages.Current;
                }
                catch (Exception e) when (IsStoreFailure(e))
                {
                    throw Translate(e);
                }
                foreach (var blob in page.Values)
                    yield return new RemoteObject(blob.Name[prefix.Length..], blob.Properties.ContentLength ?? 0, blob.Properties.LastModified ?? DateTimeOffset.MinValue);
            }
        }
        finally
        {
            await pages.DisposeAsync().ConfigureAwait(false);
        }
    }

    public Task DeleteAsync(string name, CancellationToken cancellation) => Guard(async () =>
        (bool)await container.GetBlobClient(prefix + name).DeleteIfExistsAsync(cancellationToken: cancellation).ConfigureAwait(false));

    private async Task<T> Guard<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (Exception e) when (IsStoreFailure(e))
        {
            throw Translate(e);
        }
    }

    private static bool IsStoreFailure(Exception e) =>
        e is RequestFailedException or AuthenticationFailedException or CredentialUnavailableException or AggregateException
            or HttpRequestException or TaskCanceledException or TimeoutException or IOException;

    /// <summary>The SDK's exception as one of our codes. Only the status and the service's error code are kept: the
    /// SDK's own message repeats request details.</summary>
    private RemoteCacheException Translate(Exception e)
    {
        var where = $"The remote cache {Display}";
        switch (e)
        {
            case RequestFailedException { Status: 401 or 403 } r:
                return new RemoteCacheException(RemoteCacheCodes.AccessDenied, $"{where} refused the credentials (HTTP {r.Status}, {r.ErrorCode}).",
                    "Check the SAS (permissions, expiry), the connection string's key, or the identity's role (Storage Blob Data Contributor to write, Reader to read).", null);
            case RequestFailedException { Status: 404 } r when r.ErrorCode == BlobErrorCode.ContainerNotFound:
                return new RemoteCacheException(RemoteCacheCodes.ContainerMissing, $"{where}: the container '{container.Name}' does not exist.",
                    "Create the container, or use the azblob://<container> form with a connection string, which creates it.", null);
            case RequestFailedException { Status: 429 or 503 } r:
                return new RemoteCacheException(RemoteCacheCodes.Throttled, $"{where} throttled the requests (HTTP {r.Status}) beyond the retries.",
                    "Try again later; the build went on with the local cache.", null);
            case RequestFailedException { Status: 0 } or HttpRequestException or TaskCanceledException or TimeoutException or IOException or AggregateException:
                return new RemoteCacheException(RemoteCacheCodes.Unreachable, $"{where} did not answer ({Describe(e)}).",
                    "Check the network and the account name in ModelBuildRemoteCache; the build went on with the local cache.", null);
            case AuthenticationFailedException or CredentialUnavailableException:
                return new RemoteCacheException(RemoteCacheCodes.AccessDenied, $"{where}: no Azure credential could be obtained (DefaultAzureCredential).",
                    "Sign in (az login), give the machine a managed identity, or put a SAS in ModelBuildRemoteCache.", null);
            case RequestFailedException r:
                return new RemoteCacheException(RemoteCacheCodes.StoreFailed, $"{where} failed the request (HTTP {r.Status}, {r.ErrorCode}).",
                    "Check the store's state; the build went on with the local cache.", null);
            default:
                return new RemoteCacheException(RemoteCacheCodes.StoreFailed, $"{where} failed ({e.GetType().Name}).", "Check the store's state.", null);
        }
    }

    private static string Describe(Exception e)
    {
        // The innermost exception says what happened (connection refused, name not resolved); its message names a
        // host at most, never a query string.
        var inner = e;
        while (inner.InnerException is not null) inner = inner.InnerException;
        return inner is System.Net.Sockets.SocketException s ? s.SocketErrorCode.ToString() : inner.GetType().Name;
    }
}
