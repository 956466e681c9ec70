using System.Net;
using System.Text;
using Amazon.Runtime;
using Amazon.S3;
using ModelBuild.Compression.RemoteCache;

namespace ModelBuild.Compression.Tests.RemoteCache;

/// <summary>
/// The S3 store's key layout and SDK calls, through the real AWSSDK.S3 client over a fake HTTP handler that plays an
/// S3 server in memory (objects by key, If-None-Match honoured): what is sent where, in which order, and how a
/// tampered object is caught.
/// </summary>
public sealed class S3RemoteStoreTests : IDisposable
{
    private readonly Dictionary<string, byte[]> objects = new(StringComparer.Ordinal);
    private readonly FakeHttp http;
    private readonly string entry = Directory.CreateTempSubdirectory("mb-s3-").FullName;
    private readonly RecordingLog log = new();
    private static readonly string Key = new('c', 64);

    public S3RemoteStoreTests()
    {
        http = new FakeHttp(Serve);
        File.WriteAllBytes(Path.Combine(entry, "model.onnx"), Encoding.UTF8.GetBytes("pretend this is a model"));
        File.WriteAllText(Path.Combine(entry, "report.json"), "{}");
    }

    public void Dispose() => Directory.Delete(entry, recursive: true);

    private HttpResponseMessage Serve(HttpRequestMessage request, byte[]? body)
    {
        var key = Uri.UnescapeDataString(request.RequestUri!.AbsolutePath).TrimStart('/');
        lock (objects)
        {
            if (request.Method == HttpMethod.Put)
            {
                if (request.Headers.TryGetValues("If-None-Match", out var v) && v.Contains("*") && objects.ContainsKey(key))
                    return Xml(HttpStatusCode.PreconditionFailed, "PreconditionFailed");
                objects[key] = Decode(request, body ?? []);
                return WithETag(FakeHttp.Status(HttpStatusCode.OK), objects[key]);
            }
            if (!objects.TryGetValue(key, out var content)) return Xml(HttpStatusCode.NotFound, "NoSuchKey");
            var response = FakeHttp.Status(HttpStatusCode.OK, content: request.Method == HttpMethod.Head ? [] : content);
            response.Content.Headers.ContentLength = content.Length;
            return WithETag(response, content);
        }
    }

    /// <summary>S3's ETag of a simple object is its MD5 in hex, which the SDK parses.</summary>
    private static HttpResponseMessage WithETag(HttpResponseMessage response, byte[] content)
    {
        response.Headers.Remove("ETag");
        response.Headers.TryAddWithoutValidation("ETag", $"\"{Convert.ToHexString(System.Security.Cryptography.MD5.HashData(content)).ToLowerInvariant()}\"");
        return response;
    }

    /// <summary>The SDK may send a PUT body aws-chunked with a trailing checksum; the server stores the payload.</summary>
    private static byte[] Decode(HttpRequestMessage request, byte[] body)
    {
        if (!(request.Content?.Headers.ContentEncoding.Contains("aws-chunked") ?? false) && !request.Headers.Contains("x-amz-decoded-content-length")) return body;
        var text = Encoding.Latin1.GetString(body);
        var output = new MemoryStream();
        var at = 0;
        while (true)
        {
            var lineEnd = text.IndexOf("\r\n", at, StringComparison.Ordinal);
            var size = Convert.ToInt32(text[at..lineEnd].Split(';')[0], 16);
            if (size == 0) break;
            output.Write(body, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
        return output.ToArray();
    }

    private static HttpResponseMessage Xml(HttpStatusCode status, string code) =>
        FakeHttp.Status(status, content: Encoding.UTF8.GetBytes($"<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{code}</Message></Error>"));

    private S3RemoteStore Store()
    {
        var config = new AmazonS3Config { ServiceURL = "http://s3.test", ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0, HttpClientFactory = new Factory(http) };
        return new S3RemoteStore(new AmazonS3Client(new BasicAWSCredentials("AKIDEXAMPLE", "secret"), config), RemoteCacheSettings.Parse("s3://team-cache/modelbuild"));
    }

    private sealed class Factory(HttpMessageHandler handler) : HttpClientFactory
    {
        public override HttpClient CreateHttpClient(IClientConfig clientConfig) => new(handler, disposeHandler: false);
    }

    [Fact]
    public void Publish_puts_the_blobs_under_the_prefix_then_the_manifest_with_If_None_Match()
    {
        var client = new RemoteCacheClient(Store(), RemoteCacheMode.ReadWrite, null, log);
        Assert.True(client.Publish(RemoteCacheLayout.EntryKind, Key, entry, "result"));
        var puts = http.Requests.Where(r => r.Method == "PUT").ToList();
        Assert.Equal(3, puts.Count);
        Assert.All(puts.Take(2), p => Assert.StartsWith("/team-cache/modelbuild/modelbuild-cache-v1/blobs/", p.Path));
        Assert.Equal($"/team-cache/modelbuild/modelbuild-cache-v1/entries/{Key}.json", puts[2].Path);
        Assert.Equal("*", puts[2].Headers["If-None-Match"]);
        Assert.False(puts[0].Headers.ContainsKey("If-None-Match"));

        // A second writer of the same key: the manifest exists, nothing is uploaded again.
        var second = new RemoteCacheClient(Store(), RemoteCacheMode.ReadWrite, null, log);
        Assert.False(second.Publish(RemoteCacheLayout.EntryKind, Key, entry, "result"));
        Assert.Contains(log.Infos, i => i.Contains("already in the remote cache"));
        Assert.Equal(3, http.Requests.Count(r => r.Method == "PUT"));
    }

    [Fact]
    public void Fetch_downloads_and_verifies_and_a_tampered_object_is_MB0625()
    {
        new RemoteCacheClient(Store(), RemoteCacheMode.ReadWrite, null, log).Publish(RemoteCacheLayout.EntryKind, Key, entry, "result");
        var into = Path.Combine(entry, "fetched");
        Assert.True(new RemoteCacheClient(Store(), RemoteCacheMode.Read, null, log).TryFetch(RemoteCacheLayout.EntryKind, Key, into, "result"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(entry, "model.onnx")), File.ReadAllBytes(Path.Combine(into, "model.onnx")));

        var blob = objects.Keys.Single(k => k.Contains("/blobs/") && objects[k].Length > 10);
        objects[blob][3] ^= 1;
        var again = Path.Combine(entry, "fetched-again");
        Assert.False(new RemoteCacheClient(Store(), RemoteCacheMode.Read, null, log).TryFetch(RemoteCacheLayout.EntryKind, Key, again, "result"));
        Assert.False(Directory.Exists(again));
        Assert.Contains(log.Warnings, w => w.StartsWith("MB0625", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_entry_is_a_miss_without_a_warning()
    {
        Assert.False(new RemoteCacheClient(Store(), RemoteCacheMode.Read, null, log).TryFetch(RemoteCacheLayout.EntryKind, Key, Path.Combine(entry, "x"), "result"));
        Assert.Contains(log.Infos, i => i.Contains("remote miss"));
        Assert.Empty(log.Warnings);
        Assert.Equal($"/team-cache/modelbuild/modelbuild-cache-v1/entries/{Key}.json", http.Requests.Single().Path);
    }
}

internal sealed class RecordingLog : IRemoteCacheLog
{
    public List<string> Infos { get; } = [];
    public List<string> Warnings { get; } = [];
    public void Info(string text) => Infos.Add(text);
    public void Warning(string code, string cause, string remedy) { ModelBuild.TestSupport.ProducedCodes.ObserveCode(code); Warnings.Add($"{code}: {cause}"); }
}
