using System.Net;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace ModelBuild.Compression.RemoteCache;

/// <summary>
/// The remote cache on S3 or an S3-compatible server (AWSSDK.S3): AWS's default credential chain (environment,
/// profile, instance role) and region; <c>AWS_ENDPOINT_URL</c> points it at another server (path-style addressing).
/// Conditional create is a PUT with If-None-Match: *.
/// </summary>
public sealed class S3RemoteStore : IRemoteCacheStore
{
    private readonly IAmazonS3 client;
    private readonly string bucket;
    private readonly string prefix;

    public string Display { get; }

    public S3RemoteStore(RemoteCacheSettings settings) : this(CreateClient(), settings) { }

    /// <summary>With a given client (tests substitute one to see the calls).</summary>
    public S3RemoteStore(IAmazonS3 client, RemoteCacheSettings settings)
    {
        this.client = client;
        bucket = settings.Container;
        prefix = settings.Prefix.Length > 0 ? settings.Prefix + "/" : "";
        Display = settings.Display;
    }

    /// <summary>The object key of a cache name: the prefix, then the name.</summary>
    public string ObjectKey(string name) => prefix + name;

    private static AmazonS3Client CreateClient() => new(CreateConfig(Environment.GetEnvironmentVariable("AWS_ENDPOINT_URL")));

    /// <summary>The client settings: bounded retries; for an <paramref name="endpoint"/> (AWS_ENDPOINT_URL) path-style addressing.</summary>
    public static AmazonS3Config CreateConfig(string? endpoint)
    {
        var config = new AmazonS3Config
        {
            // Bounded, like the Azure store: a few tries of a 30 s time-out each, then one warning.
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = 2,
            Timeout = TimeSpan.FromSeconds(30),
        };
        if (!string.IsNullOrEmpty(endpoint))
        {
            config.ServiceURL = endpoint;
            config.ForcePathStyle = true; // S3-compatible servers rarely have per-bucket host names
            // Many S3-compatible servers do not understand the SDK's default streaming trailer checksums; the cache
            // checks SHA-256 itself.
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
            if (Environment.GetEnvironmentVariable("AWS_REGION") is not { Length: > 0 } && Environment.GetEnvironmentVariable("AWS_DEFAULT_REGION") is not { Length: > 0 })
                config.AuthenticationRegion = "us-east-1";
        }
        return config;
    }

    public Task PrepareAsync(CancellationToken cancellation) => Task.CompletedTask;

    public Task<bool> TryDownloadAsync(string name, Stream destination, CancellationToken cancellation) => Guard(async () =>
    {
        try
        {
            using var response = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = ObjectKey(name) }, cancellation).ConfigureAwait(false);
            await response.ResponseStream.CopyToAsync(destination, cancellation).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey" || e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            return false;
        }
    });

    public async Task<byte[]?> TryReadAsync(string name, CancellationToken cancellation)
    {
        using var buffer = new MemoryStream();
        return await TryDownloadAsync(name, buffer, cancellation).ConfigureAwait(false) ? buffer.ToArray() : null;
    }

    // UseChunkEncoding = false: a signed whole payload instead of aws-chunked framing, which S3-compatible servers
    // (s3rver among them) store verbatim; the files are on disk, so hashing the payload first costs one read.
    public Task UploadAsync(string name, string file, CancellationToken cancellation) => Guard(async () =>
    {
        await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = ObjectKey(name), FilePath = file, UseChunkEncoding = false }, cancellation).ConfigureAwait(false);
        return true;
    });

    public Task<bool> TryCreateAsync(string name, byte[] content, CancellationToken cancellation) => Guard(async () =>
    {
        try
        {
            using var stream = new MemoryStream(content, writable: false);
            await client.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = ObjectKey(name), InputStream = stream, IfNoneMatch = "*", UseChunkEncoding = false }, cancellation).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict)
        {
            return false; // the first writer won
        }
    });

    public Task<bool> ExistsAsync(string name, CancellationToken cancellation) => Guard(async () =>
    {
        try
        {
            await client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = ObjectKey(name) }, cancellation).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    });

    public async IAsyncEnumerable<RemoteObject> ListAsync(string namePrefix, [EnumeratorCancellation] CancellationToken cancellation)
    {
        string? token = null;
        do
        {
            var request = new ListObjectsV2Request { BucketName = bucket, Prefix = ObjectKey(namePrefix), ContinuationToken = token };
            var response = await Guard(() => client.ListObjectsV2Async(request, cancellation)).ConfigureAwait(false);
            foreach (var item in response.S3Objects ?? [])
                yield return new RemoteObject(item.Key[prefix.Length..], item.Size ?? 0, item.LastModified is { } t ? new DateTimeOffset(t.ToUniversalTime(), TimeSpan.Zero) : DateTimeOffset.MinValue);
            token = response.IsTruncated == true ? response.NextContinuationToken : null;
        }
        while (token is not null);
    }

    public Task DeleteAsync(string name, CancellationToken cancellation) => Guard(async () =>
    {
        await client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = ObjectKey(name) }, cancellation).ConfigureAwait(false);
        return true;
    });

    private async Task<T> Guard<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (AmazonS3Exception e)
        {
            var where = $"The remote cache {Display}";
            throw e.StatusCode switch
            {
                HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized => new RemoteCacheException(RemoteCacheCodes.AccessDenied,
                    $"{where} refused the credentials (HTTP {(int)e.StatusCode}, {e.ErrorCode}).",
                    "Check the AWS credentials (AWS_ACCESS_KEY_ID/AWS_PROFILE/instance role) and the bucket policy (s3:GetObject, s3:PutObject, s3:ListBucket)."),
                HttpStatusCode.NotFound when e.ErrorCode == "NoSuchBucket" => new RemoteCacheException(RemoteCacheCodes.ContainerMissing,
                    $"{where}: the bucket '{bucket}' does not exist.", "Create the bucket or fix the name in ModelBuildRemoteCache."),
                HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable => new RemoteCacheException(RemoteCacheCodes.Throttled,
                    $"{where} throttled the requests (HTTP {(int)e.StatusCode}) beyond the retries.", "Try again later; the build went on with the local cache."),
                _ => new RemoteCacheException(RemoteCacheCodes.StoreFailed, $"{where} failed the request (HTTP {(int)e.StatusCode}, {e.ErrorCode}).",
                    "Check the store's state; the build went on with the local cache."),
            };
        }
        catch (AmazonServiceException e)
        {
            throw new RemoteCacheException(RemoteCacheCodes.StoreFailed, $"The remote cache {Display} failed ({e.ErrorCode ?? e.GetType().Name}).",
                "Check the AWS credentials and region; the build went on with the local cache.");
        }
        catch (Exception e) when (e is AmazonClientException or HttpRequestException or TaskCanceledException or TimeoutException or IOException or WebException)
        {
            throw new RemoteCacheException(RemoteCacheCodes.Unreachable, $"The remote cache {Display} did not answer ({e.GetType().Name}).",
                "Check the network, AWS_ENDPOINT_URL and the region; the build went on with the local cache.");
        }
    }
}
