using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace ModelBuild.Runtime.Tests.Support;

public enum CacheValidator
{
    ETag,
    LastModified,
    Neither,
}

/// <summary>
/// A loopback HTTP server (HttpListener) serving one model file, answering conditional requests like a static
/// file server or blob store would, and recording every request's validators.
/// </summary>
internal sealed class LoopbackModelServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CacheValidator _validator;
    private readonly Task _loop;
    private readonly object _gate = new();
    private byte[] _content;
    private int _version = 1;
    private DateTimeOffset _lastModified = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private int _failuresLeft;

    public LoopbackModelServer(byte[] content, CacheValidator validator, int failFirstRequests = 0)
    {
        _content = content;
        _validator = validator;
        _failuresLeft = failFirstRequests;
        int port = FreePort();
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(BaseUri.ToString());
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public Uri BaseUri { get; }

    public Uri ModelUri => new(BaseUri, "models/wine.onnx");

    public ConcurrentQueue<(string? IfNoneMatch, string? IfModifiedSince, int Status)> Requests { get; } = new();

    public void Publish(byte[] content)
    {
        lock (_gate)
        {
            _content = content;
            _version++;
            _lastModified = _lastModified.AddSeconds(10);
        }
    }

    /// <summary>Ends the failures asked for with failFirstRequests: the server answers from now on.</summary>
    public void StopFailing()
    {
        lock (_gate)
        {
            _failuresLeft = 0;
        }
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception) when (!_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                return;
            }
            Handle(context);
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        string? ifNoneMatch = request.Headers["If-None-Match"];
        string? ifModifiedSince = request.Headers["If-Modified-Since"];
        byte[] content;
        string etag;
        DateTimeOffset lastModified;
        bool fail;
        lock (_gate)
        {
            content = _content;
            etag = $"\"v{_version}\"";
            lastModified = _lastModified;
            fail = _failuresLeft > 0;
            if (fail)
            {
                _failuresLeft--;
            }
        }
        int status;
        if (request.Url!.AbsolutePath != ModelUri.AbsolutePath)
        {
            status = 404;
        }
        else if (fail)
        {
            status = 503;
        }
        else if (_validator == CacheValidator.ETag && ifNoneMatch == etag)
        {
            status = 304;
        }
        else if (_validator == CacheValidator.LastModified && ifModifiedSince is not null
                 && DateTimeOffset.Parse(ifModifiedSince, CultureInfo.InvariantCulture) >= lastModified)
        {
            status = 304;
        }
        else
        {
            status = 200;
        }
        Requests.Enqueue((ifNoneMatch, ifModifiedSince, status));
        response.StatusCode = status;
        if (_validator == CacheValidator.ETag)
        {
            response.Headers["ETag"] = etag;
        }
        if (_validator == CacheValidator.LastModified)
        {
            response.Headers["Last-Modified"] = lastModified.ToString("R", CultureInfo.InvariantCulture);
        }
        if (status == 200)
        {
            response.ContentType = "application/octet-stream";
            response.ContentLength64 = content.Length;
            response.OutputStream.Write(content);
        }
        response.Close();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}
