using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ModelBuild.Runtime.Tests.Support;

/// <summary>Collects log lines (and the MB codes in their event ids) for assertions.</summary>
internal sealed class ListLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();
    public ILogger CreateLogger(string categoryName) => new ListLogger(Entries);
    public void Dispose()
    {
    }

    private sealed class ListLogger(ConcurrentQueue<(LogLevel, string)> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ModelBuild.TestSupport.ProducedCodes.ObserveCode(eventId.Name);
            entries.Enqueue((logLevel, formatter(state, exception)));
        }
    }
}
