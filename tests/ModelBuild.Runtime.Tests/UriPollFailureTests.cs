using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ModelBuild.Runtime.Tests;

/// <summary>The background poll of a FromUri model runs on a timer nobody awaits: an unexpected failure must be logged.</summary>
public sealed class UriPollFailureTests
{
    [Fact]
    public async Task An_unexpected_exception_in_the_background_poll_is_logged_as_MB0720()
    {
        var logger = new ListLogger();
        var polls = 0;
        using var loader = new UriModelLoader(new Uri("http://127.0.0.1:9/model.onnx"), TimeSpan.FromMilliseconds(50),
            () => { Interlocked.Increment(ref polls); throw new InvalidOperationException("handler disposed by the host"); },
            retries: 0, TimeSpan.FromMilliseconds(1), logger);
        loader.Start();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60); // a bound on "never", not a speed
        while (logger.Entries.IsEmpty && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(Volatile.Read(ref polls) > 0, "the timer never polled");
        var (level, eventId, message, exception) = Assert.Single(logger.Entries.Take(1));
        Assert.Equal(LogLevel.Error, level);
        Assert.Equal("MB0720", eventId.Name);
        Assert.StartsWith("MB0720: polling http://127.0.0.1:9/model.onnx failed unexpectedly", message);
        Assert.IsType<InvalidOperationException>(exception);
    }

    private sealed class ListLogger : ILogger<UriModelLoader>
    {
        public ConcurrentQueue<(LogLevel Level, EventId Id, string Message, Exception? Exception)> Entries { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ModelBuild.TestSupport.ProducedCodes.ObserveCode(eventId.Name);
            Entries.Enqueue((logLevel, eventId, formatter(state, exception), exception));
        }
    }
}
