using System.Net;

namespace ModelBuild.Compression.Tests.RemoteCache;

/// <summary>An HTTP handler that records each request and answers from a function: the storage SDKs run for real above it.</summary>
internal sealed class FakeHttp(Func<HttpRequestMessage, byte[]?, HttpResponseMessage> answer) : HttpMessageHandler
{
    public List<(string Method, string Path, Dictionary<string, string> Headers)> Requests { get; } = [];

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? null : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var headers = request.Headers.Concat(request.Content?.Headers ?? Enumerable.Empty<KeyValuePair<string, IEnumerable<string>>>())
            .ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        lock (Requests) Requests.Add((request.Method.Method, Uri.UnescapeDataString(request.RequestUri!.AbsolutePath), headers));
        var response = answer(request, body);
        response.RequestMessage = request;
        return response;
    }

    public static HttpResponseMessage Status(HttpStatusCode status, string? errorCode = null, byte[]? content = null)
    {
        var response = new HttpResponseMessage(status) { Content = new ByteArrayContent(content ?? []) };
        if (errorCode is not null) response.Headers.TryAddWithoutValidation("x-ms-error-code", errorCode);
        response.Headers.TryAddWithoutValidation("x-ms-request-id", Guid.NewGuid().ToString());
        response.Headers.TryAddWithoutValidation("ETag", "\"0x1\"");
        response.Content.Headers.LastModified = DateTimeOffset.UtcNow;
        return response;
    }
}
