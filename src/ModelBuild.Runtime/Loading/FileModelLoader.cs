using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using ModelBuild.Runtime.Loading;

namespace ModelBuild.Runtime;

/// <summary>
/// Loads a model from a file and, when asked, watches it. The watcher looks at the whole directory so that
/// atomic-rename deploys (write a temp file, rename over the model: Created/Renamed events) are seen as well as
/// in-place writes (Changed); events are debounced so one deploy causes one reload, and the pool retries a file
/// that does not load yet because it is still being written.
/// </summary>
public sealed class FileModelLoader : ModelLoader
{
    private readonly string _path;
    private readonly string _fileName;
    private readonly bool _watch;
    private readonly TimeSpan _debounce;
    private readonly ILogger _logger;
    private readonly ReloadSignal _signal = new();
    private readonly StringComparison _nameComparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
    private FileSystemWatcher? _watcher;
    private Timer? _debounceTimer;

    public FileModelLoader(string path, bool watchForChanges, TimeSpan debounce, ILogger<FileModelLoader> logger)
    {
        _path = Path.GetFullPath(path);
        _fileName = Path.GetFileName(_path);
        _watch = watchForChanges;
        _debounce = debounce;
        _logger = logger;
    }

    public override string Source => _path;

    public override async ValueTask<byte[]> ReadModelAsync(CancellationToken cancellationToken)
    {
        // Share ReadWrite|Delete: a deploy may be rewriting or replacing the file right now; a torn read fails to
        // load and is retried by the pool.
        try
        {
            await using var stream = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete,
                bufferSize: 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var buffer = new MemoryStream(stream.CanSeek ? (int)stream.Length : 0);
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            // A missing file (a wrong path, a deploy that has not copied it yet), a folder, no permission: MB0701 naming
            // the file, as a corrupt one is; on reload the previous generation keeps serving.
            var why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "it does not exist",
                UnauthorizedAccessException when Directory.Exists(_path) => "it is a folder, not a file",
                _ => e.Message,
            };
            throw new ModelRuntimeException(RuntimeErrorCodes.ModelLoadFailed, $"The model file '{_path}' cannot be read: {why}.",
                "Check the path (relative paths are resolved against the app's working folder; AppContext.BaseDirectory finds a model copied to bin/) and that the app's user can read it.", _path, e);
        }
    }

    public override ValueTask<RecordedSessionSettings?> ReadSessionSettingsAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(RecordedSessionSettings.ReadSidecar(_path));

    public override IChangeToken GetReloadToken() => _signal.Token;

    public override void Start()
    {
        if (!_watch || _watcher is not null)
        {
            return;
        }
        _debounceTimer = new Timer(_ => _signal.Fire());
        var watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!)
        {
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
            IncludeSubdirectories = false,
        };
        watcher.Changed += (_, e) => OnEvent(e.FullPath);
        watcher.Created += (_, e) => OnEvent(e.FullPath);
        watcher.Renamed += (_, e) => OnEvent(e.FullPath);
        watcher.Error += (_, e) =>
        {
            // Buffer overflow: events were lost, so check the file anyway (an unchanged hash makes it a no-op).
            _logger.LogWarning(e.GetException(), "File watcher error on {Path}; rechecking the model", _path);
            Schedule();
        };
        watcher.EnableRaisingEvents = true;
        _watcher = watcher;
        _logger.LogDebug("Watching {Path} for changes", _path);
    }

    private void OnEvent(string fullPath)
    {
        if (string.Equals(Path.GetFileName(fullPath), _fileName, _nameComparison))
        {
            Schedule();
        }
    }

    private void Schedule()
    {
        try
        {
            _debounceTimer?.Change(_debounce, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed while an event was in flight.
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _watcher?.Dispose();
            _debounceTimer?.Dispose();
            _signal.Dispose();
        }
    }
}
