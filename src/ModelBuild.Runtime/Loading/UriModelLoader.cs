using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using ModelBuild.Runtime.Loading;

namespace ModelBuild.Runtime;

/// <summary>
/// Downloads a model and polls it every period with conditional requests: If-None-Match when the server sent an
/// ETag, If-Modified-Since when it sent Last-Modified; a 304 means unchanged. When the server sends neither, the
/// body's SHA-256 decides. Failed requests (network errors, 5xx, 408, 429) are retried with exponential back-off.
/// </summary>
public sealed class UriModelLoader(Uri uri, TimeSpan period, Func<HttpClient> clientFactory, int retries, TimeSpan retryDelay, ILogger<UriModelLoader> logger)
    : ModelLoader
{
    /// <summary>The IHttpClientFactory client name (configure it with services.AddHttpClient(name, ...)).</summary>
    public const string HttpClientName = "ModelBuild.Runtime";

    private readonly Uri _uri = uri;
    private readonly TimeSpan _period = period;
    private readonly Func<HttpClient> _clientFactory = clientFactory;
    private readonly int _retries = retries;
    private readonly TimeSpan _retryDelay = retryDelay;
    private readonly ILogger _logger = logger;
    private readonly ReloadSignal _signal = new();
    private readonly SemaphoreSlim _pollLock = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private byte[]? _content;
    private string? _contentHash;
    private EntityTagHeaderValue? _etag;
    private DateTimeOffset? _lastModified;
    private Timer? _timer;

    public override string Source => _uri.ToString();

    public override async ValueTask<byte[]> ReadModelAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _content) is null)
        {
            await PollAsync(cancellationToken).ConfigureAwait(false);
        }
        return Volatile.Read(ref _content)!;
    }

    public override IChangeToken GetReloadToken() => _signal.Token;

    public override void Start()
    {
        if (_period > TimeSpan.Zero && _timer is null)
        {
            _timer = new Timer(_ => _ = PollAndSignalAsync(), null, _period, _period);
        }
    }

    private async Task PollAndSignalAsync()
    {
        try
        {
            if (await PollAsync(_stopping.Token).ConfigureAwait(false))
            {
                _signal.Fire();
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (ModelRuntimeException ex)
        {
            // The model keeps serving; the next period tries again.
            _logger.LogWarning(ex, "Polling {Uri} failed", _uri);
        }
        catch (Exception ex)
        {
            // This runs on a timer with nobody awaiting it: an exception not caught here would vanish without a trace.
            _logger.LogError(new EventId(2720, RuntimeErrorCodes.PollFailedUnexpectedly), ex,
                "{Code}: polling {Uri} failed unexpectedly ({Error}); the current model keeps serving and the next poll is in {Period}. Fix: report this with the exception; reload by hand with ReloadAsync meanwhile.",
                RuntimeErrorCodes.PollFailedUnexpectedly, _uri, ex.Message, _period);
        }
    }

    /// <summary>One conditional download (with retries). Returns true when new content was fetched.</summary>
    internal async Task<bool> PollAsync(CancellationToken cancellationToken)
    {
        await _pollLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    return await FetchAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (IsTransient(ex, cancellationToken) && attempt < _retries)
                {
                    var delay = TimeSpan.FromTicks(_retryDelay.Ticks << attempt);
                    _logger.LogInformation("Download of {Uri} failed ({Error}); retry {Attempt}/{Retries} in {Delay} ms",
                        _uri, ex.Message, attempt + 1, _retries, delay.TotalMilliseconds);
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is HttpRequestException || IsTransient(ex, cancellationToken))
                {
                    throw new ModelRuntimeException(RuntimeErrorCodes.DownloadFailed,
                        // attempt + 1, not _retries + 1: a 404 is not retried, so one attempt was made.
                        $"Model '{_uri}' could not be downloaded after {attempt + 1} attempt{(attempt == 0 ? "" : "s")}: {ex.Message}",
                        "Check that the URI is reachable from this host and returns the ONNX file with status 200.",
                        _uri.ToString(), ex);
                }
            }
        }
        finally
        {
            _pollLock.Release();
        }
    }

    private async Task<bool> FetchAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _uri);
        if (_content is not null)
        {
            if (_etag is not null)
            {
                request.Headers.IfNoneMatch.Add(_etag);
            }
            if (_lastModified is not null)
            {
                request.Headers.IfModifiedSince = _lastModified;
            }
        }
        var client = _clientFactory();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotModified && _content is not null)
        {
            return false;
        }
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
        }
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        _etag = response.Headers.ETag;
        _lastModified = response.Content.Headers.LastModified;
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (hash == _contentHash)
        {
            return false; // The server sent neither validator (or ignored them): same body, nothing to do.
        }
        _contentHash = hash;
        Volatile.Write(ref _content, bytes);
        _logger.LogDebug("Downloaded {Bytes} bytes from {Uri} (sha256 {Hash})", bytes.Length, _uri, hash);
        return true;
    }

    private static bool IsTransient(Exception ex, CancellationToken cancellationToken) => ex switch
    {
        HttpRequestException { StatusCode: null } => true,
        HttpRequestException { StatusCode: { } code } => (int)code >= 500 || code is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests,
        TaskCanceledException => !cancellationToken.IsCancellationRequested, // HttpClient timeout
        IOException => true,
        _ => false,
    };

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopping.Cancel();
            _timer?.Dispose();
            _signal.Dispose();
        }
    }
}
