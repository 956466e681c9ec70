using System.Net;
using Azure.Core.Pipeline;
using ModelBuild.Compression.RemoteCache;

namespace ModelBuild.Compression.Tests.RemoteCache;

/// <summary>
/// How the Azure store turns the service's answers into the cache's codes, through the real Azure.Storage.Blobs client
/// (its retry policy included) over a fake transport. The end-to-end behaviour against Azurite is in
/// ModelBuild.IntegrationTests (RemoteCacheBuildTests).
/// </summary>
public sealed class AzureBlobRemoteStoreTests
{
    private static AzureBlobRemoteStore Store(FakeHttp http) =>
        new(RemoteCacheSettings.Parse("https://contoso.blob.core.windows.net/cache/team?sv=2024-11-04&sig=c2VjcmV0"), new HttpClientTransport(http));

    private static RemoteCacheException Failure(HttpStatusCode status, string errorCode)
    {
        var http = new FakeHttp((_, _) => FakeHttp.Status(status, errorCode));
        return Assert.Throws<RemoteCacheException>(() => Store(http).TryReadAsync("modelbuild-cache-v1/entries/k.json", CancellationToken.None).GetAwaiter().GetResult());
    }

    [Fact]
    public void Throttling_beyond_the_retries_is_MB0624_after_the_SDK_retried()
    {
        var http = new FakeHttp((_, _) => FakeHttp.Status(HttpStatusCode.TooManyRequests, "ServerBusy"));
        var e = Assert.Throws<RemoteCacheException>(() => Store(http).TryReadAsync("x", CancellationToken.None).GetAwaiter().GetResult());
        Assert.Equal("MB0624", e.Code);
        Assert.Equal(3, http.Requests.Count); // the first try and the policy's 2 retries: bounded
    }

    [Fact]
    public void Refused_credentials_missing_container_and_other_failures_have_their_codes_and_no_secret()
    {
        Assert.Equal("MB0622", Failure(HttpStatusCode.Forbidden, "AuthenticationFailed").Code);
        Assert.Equal("MB0623", Failure(HttpStatusCode.NotFound, "ContainerNotFound").Code);
        var other = Failure(HttpStatusCode.BadRequest, "OutOfRangeInput");
        Assert.Equal("MB0630", other.Code);
        Assert.Contains("OutOfRangeInput", other.Cause);
        Assert.DoesNotContain("c2VjcmV0", other.Cause + other.Remedy);
    }

    [Fact]
    public async Task A_missing_blob_is_a_miss_and_the_manifest_is_created_only_if_absent()
    {
        var http = new FakeHttp((request, _) => request.Method == HttpMethod.Get
            ? FakeHttp.Status(HttpStatusCode.NotFound, "BlobNotFound")
            : FakeHttp.Status(HttpStatusCode.Conflict, "BlobAlreadyExists"));
        var store = Store(http);
        Assert.Null(await store.TryReadAsync("modelbuild-cache-v1/entries/k.json", CancellationToken.None));
        Assert.False(await store.TryCreateAsync("modelbuild-cache-v1/entries/k.json", [1, 2, 3], CancellationToken.None));
        var put = http.Requests.Single(r => r.Method == "PUT");
        Assert.Equal("/cache/team/modelbuild-cache-v1/entries/k.json", put.Path);
        Assert.Equal("*", put.Headers["If-None-Match"]);
    }
}
