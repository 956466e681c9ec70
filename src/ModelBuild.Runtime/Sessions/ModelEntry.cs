using System.Diagnostics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Runtime.Loading;
using ModelBuild.Runtime.Mapping;

namespace ModelBuild.Runtime.Sessions;

/// <summary>
/// One named model in a pool: its loader, the current generation and the reload logic. Reloads are serialized;
/// a new generation is fully built (session + checked tensor map + a warm context) before it is swapped in with
/// one atomic exchange, and the previous generation is released (disposed when its last lease returns).
/// </summary>
internal sealed class ModelEntry<TIn, TOut>(string name, ModelLoader loader, PredictionEnginePoolOptions<TIn, TOut> options,
    PredictionEnginePool<TIn, TOut> pool, ILogger logger) : IDisposable
    where TIn : class
    where TOut : class, new()
{
    private readonly ModelLoader _loader = loader;
    private readonly PredictionEnginePoolOptions<TIn, TOut> _options = options;
    private readonly PredictionEnginePool<TIn, TOut> _pool = pool;
    private readonly ILogger _logger = logger;
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private readonly ReloadSignal _reloaded = new();
    private readonly CancellationTokenSource _disposing = new();
    private readonly object _swapLock = new();
    private ModelGeneration<TIn, TOut>? _current;
    private IDisposable? _changeRegistration;
    private long _generationCounter;
    private int _changedDuringInitialLoad;
    private volatile string? _lastError;
    private DateTimeOffset? _lastErrorAt;
    // Set while a configured model waits for its source (its first read failed); null once it has loaded.
    private volatile Exception? _waitingForSource;
    // The last attempt read the source and the model did not fit (a mapping error): only a source change tries again.
    private volatile bool _waitingForAnotherModel;
    private long _nextCallTriggeredLoad;
    // The SHA-256 of the bytes the last first-load attempt read (null: it could not read the source), and those bytes
    // with the session settings read beside them (null: the sidecar could not be read either), which is what a
    // session is built from; under _reloadLock.
    private string? _lastAttemptRead;
    private BuiltFrom? _lastAttemptBuiltFrom;

    /// <summary>How often calls to a model that waits for its source may start another attempt to read it.</summary>
    internal static readonly TimeSpan CallTriggeredLoadInterval = TimeSpan.FromSeconds(1);

    public string Name { get; } = name;

    private string LogName => ModelDisplayName.Of(Name);

    public ModelGeneration<TIn, TOut> Current => Volatile.Read(ref _current) ?? throw NotServing();

    /// <summary>Fires after every successful swap (like Microsoft.Extensions.ML's reload token).</summary>
    public IChangeToken ReloadedToken => _reloaded.Token;

    public ModelStatus Status
    {
        get
        {
            if (Volatile.Read(ref _current) is not { } current)
            {
                // A health probe counts as a call: a model that only loads on calls would otherwise never load behind a
                // readiness check that keeps the calls away.
                TryLoadFirstSoon();
                return new ModelStatus(Name, ModelState.WaitingForSource, 0, default, _lastError, _lastErrorAt);
            }
            var info = current.Info;
            return new ModelStatus(Name, _lastError is null ? ModelState.Serving : ModelState.ServingStale, info.Generation, info.LoadedAt, _lastError, _lastErrorAt);
        }
    }

    /// <summary>
    /// The first load: synchronous, single attempt, so configuration errors surface when the pool is created. With
    /// <paramref name="waitForSource"/>, a source that cannot be read (a URI that does not answer, a file not there
    /// yet) does not throw: the model waits for it (see <see cref="ModelState.WaitingForSource"/>) and false is
    /// returned. A model that is read but wrong (not ONNX, not fitting the classes, a bad sidecar) always throws.
    /// </summary>
    public bool LoadInitial(bool waitForSource = false)
    {
        // Watch before reading, so a deploy that lands during the first load is not missed.
        _changeRegistration = ChangeToken.OnChange(_loader.GetReloadToken, OnSourceChanged);
        byte[] bytes;
        try
        {
            _loader.Start();
            bytes = _loader.ReadModelAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }
        catch (Exception ex) when (waitForSource)
        {
            _waitingForSource = ex;
            (_lastError, _lastErrorAt) = (ex.Message, DateTimeOffset.UtcNow);
            Volatile.Write(ref _nextCallTriggeredLoad, CallTriggeredLoadAfter(Stopwatch.GetTimestamp()));
            var code = (ex as ModelRuntimeException)?.Code ?? RuntimeErrorCodes.ModelLoadFailed;
            _logger.LogError(new EventId(2701, code), ex,
                "{Code}: model {Model} could not be read from {Source} ({Error}); the other models serve, calls to this one fail with this error, and it loads when its source can be read.",
                code, LogName, _loader.Source, ex.Message);
            if (Interlocked.Exchange(ref _changedDuringInitialLoad, 0) == 1)
            {
                _ = ReloadFromSourceAsync(); // a source change, as OnSourceChanged handles it
            }
            return false;
        }
        var first = CreateGeneration(bytes, _loader.ReadSessionSettingsAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult());
        Volatile.Write(ref _current, first);
        _logger.LogInformation("Loaded model {Model} from {Source} (generation {Generation}, sha256 {Sha256})",
            LogName, _loader.Source, first.Number, first.Info.Sha256);
        if (Interlocked.Exchange(ref _changedDuringInitialLoad, 0) == 1)
        {
            _ = ReloadFromSourceAsync();
        }
        return true;
    }

    private void OnSourceChanged()
    {
        Volatile.Write(ref _changedDuringInitialLoad, 1);
        if (Volatile.Read(ref _current) is not null || _waitingForSource is not null)
        {
            _waitingForAnotherModel = false;
            // ReloadAsync loads a waiting model, and if another attempt loaded it meanwhile (from bytes read before this
            // change, perhaps), reads the source again as any reload does.
            _ = ReloadFromSourceAsync();
        }
    }

    /// <summary>The Stopwatch timestamp before which calls start no new attempt, after one at <paramref name="now"/>.</summary>
    private static long CallTriggeredLoadAfter(long now) => now + (long)(CallTriggeredLoadInterval.TotalSeconds * Stopwatch.Frequency);

    /// <summary>At most once per <see cref="CallTriggeredLoadInterval"/>, an attempt on the thread pool to load a waiting model.</summary>
    private void TryLoadFirstSoon()
    {
        if (_disposing.IsCancellationRequested || _waitingForSource is null || _waitingForAnotherModel)
        {
            return;
        }
        long now = Stopwatch.GetTimestamp(), next = Volatile.Read(ref _nextCallTriggeredLoad);
        if (now >= next && Interlocked.CompareExchange(ref _nextCallTriggeredLoad, CallTriggeredLoadAfter(now), next) == next)
        {
            // Not on the caller's thread: a loader that answers synchronously would build the session on the request.
            _ = Task.Run(LoadFirstFromSourceAsync);
        }
    }

    /// <summary>
    /// Why there is no generation to serve: the model waits for its source (its error, with the same code, and at
    /// most once per <see cref="CallTriggeredLoadInterval"/> a new attempt in the background), or it was disposed.
    /// </summary>
    private Exception NotServing()
    {
        if (_disposing.IsCancellationRequested || _waitingForSource is not { } error)
        {
            return new ObjectDisposedException($"model '{Name}'");
        }
        TryLoadFirstSoon();
        var when = _waitingForAnotherModel ? "when its source changes" : "as soon as its source can be read";
        return error is ModelRuntimeException m
            ? new ModelRuntimeException(m.Code, $"Model '{Name}' is not loaded yet: {m.Cause}", $"{m.Remedy} It loads {when} (ModelReloaded is raised).", m.Item, error)
            : new ModelRuntimeException(RuntimeErrorCodes.ModelLoadFailed, $"Model '{Name}' is not loaded yet: its source '{_loader.Source}' could not be read: {error.Message}",
                "Check that the source is reachable from this host; the model loads as soon as it can be read (ModelReloaded is raised).", _loader.Source, error);
    }

    private async Task LoadFirstFromSourceAsync()
    {
        try
        {
            await LoadFirstAsync(_disposing.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Kept as the model's error (calls and the health check show it); the next change or call tries again.
        }
    }

    /// <summary>One attempt to read and load a model that waits for its source; throws its error when it fails.</summary>
    private async Task<bool> LoadFirstAsync(CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await LoadFirstLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>
    /// <see cref="LoadFirstAsync"/> with <see cref="_reloadLock"/> held by the caller. The same bytes with the same
    /// session settings as <paramref name="failed"/> fail with its error again without building a session.
    /// </summary>
    private async Task<bool> LoadFirstLockedAsync(CancellationToken cancellationToken, FailedBuild? failed = null)
    {
        if (Volatile.Read(ref _current) is not null || _waitingForSource is null)
        {
            return false; // another attempt loaded it, or it was disposed
        }
        ModelGeneration<TIn, TOut> first;
        (_lastAttemptRead, _lastAttemptBuiltFrom) = (null, null);
        try
        {
            var bytes = await _loader.ReadModelAsync(cancellationToken).ConfigureAwait(false);
            _lastAttemptRead = Hash(bytes);
            // Read before the shortcut: a sidecar still being copied fails here, and is read again on the next attempt.
            var settings = await _loader.ReadSessionSettingsAsync(cancellationToken).ConfigureAwait(false);
            _lastAttemptBuiltFrom = new BuiltFrom(_lastAttemptRead, settings);
            FailedBuild.ThrowIfSame(failed, _lastAttemptBuiltFrom);
            first = CreateGeneration(bytes, settings);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !_disposing.IsCancellationRequested)
        {
            // Read but not fitting the classes: the same bytes fail the same way, so calls stop retrying.
            _waitingForAnotherModel = !MayBeTornWrite(ex);
            _waitingForSource = ex;
            (_lastError, _lastErrorAt) = (ex.Message, DateTimeOffset.UtcNow);
            _logger.LogDebug("Model {Model} still cannot be loaded from {Source} ({Error})", LogName, _loader.Source, ex.Message);
            throw;
        }
        lock (_swapLock)
        {
            if (_disposing.IsCancellationRequested)
            {
                first.Release();
                return false;
            }
            Volatile.Write(ref _current, first);
            _waitingForSource = null;
            _lastError = null;
            // A file watcher that could not start on a missing folder starts now; under the lock, so that Dispose
            // (which cancels under it, then disposes the loader) cannot come between and leave it running.
            try
            {
                _loader.Start();
            }
            catch (Exception ex)
            {
                _logger.LogWarning(ex, "Model {Model} loaded, but watching {Source} for changes did not start", LogName, _loader.Source);
            }
        }
        _pool.Metrics.RecordReload(Name);
        _logger.LogInformation("Loaded model {Model} from {Source} (generation {Generation}, sha256 {Sha256}) after waiting for its source",
            LogName, _loader.Source, first.Number, first.Info.Sha256);
        _pool.RaiseReloaded(new ModelReloadedEventArgs(Name, first.Info, 0));
        _reloaded.Fire();
        return true;
    }

    /// <summary>Takes a reference on the current generation; retries if it was swapped out and drained meanwhile.</summary>
    public ModelGeneration<TIn, TOut> Acquire()
    {
        while (true)
        {
            var generation = Current;
            if (generation.TryAcquire())
            {
                return generation;
            }
        }
    }

    private async Task ReloadFromSourceAsync()
    {
        try
        {
            await ReloadAsync(_disposing.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_disposing.IsCancellationRequested)
        {
        }
        catch (Exception)
        {
            // Already logged, counted and raised as ModelReloadFailed; the previous generation keeps serving.
        }
    }

    /// <summary>
    /// ReloadAsync (by hand, or on a source change) of a model that waits for its source. Bytes that were read but do
    /// not load (maybe a file still being written) are read again every ReloadRetryInterval until ReloadTimeout, as a
    /// reload does, under the reload lock so one loop runs at a time, and the same bytes again build no second session.
    /// Then, or when the source cannot be read at all (its loader has retried already), the failure is logged, counted
    /// and raised as ModelReloadFailed (serving generation 0: nothing serves it), and thrown. The attempts that calls and
    /// health checks start (<see cref="TryLoadFirstSoon"/>) stay single and quiet. False when the model was loaded by
    /// another attempt meanwhile, or removed.
    /// </summary>
    private async Task<bool> LoadWaitingAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        var token = linked.Token;
        try
        {
            await _reloadLock.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return false; // removed meanwhile
        }
        try
        {
            var started = Stopwatch.GetTimestamp();
            FailedBuild? failed = null;
            while (true)
            {
                try
                {
                    return await LoadFirstLockedAsync(token, failed).ConfigureAwait(false);
                }
                catch (Exception) when (_disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    return false; // removed meanwhile
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // Read but not loading: maybe a file still being written. Not read: the loader has retried already.
                    if (_lastAttemptRead is not null && MayBeTornWrite(ex) && Stopwatch.GetElapsedTime(started) < _options.ReloadTimeout)
                    {
                        failed = FailedBuild.After(failed, _lastAttemptBuiltFrom, ex);
                        try
                        {
                            await Task.Delay(_options.ReloadRetryInterval, token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (_disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                        {
                            return false; // removed meanwhile
                        }
                        continue;
                    }
                    _pool.Metrics.RecordReloadFailure(Name);
                    _logger.LogWarning(ex, "Loading model {Model} from {Source} failed; it still waits for its source, and calls to it fail with this error",
                        LogName, _loader.Source);
                    _pool.RaiseReloadFailed(new ModelReloadFailedEventArgs(Name, ex, 0));
                    throw;
                }
            }
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>
    /// Reads the source and swaps in a new generation if its bytes differ from the current one. A source that does
    /// not load (partially written file, bad model, class mismatch) is retried until the reload timeout, then the
    /// failure is reported and thrown while the previous generation keeps serving.
    /// </summary>
    public async Task<bool> ReloadAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _current) is null && _waitingForSource is not null)
        {
            if (await LoadWaitingAsync(cancellationToken).ConfigureAwait(false))
            {
                return true;
            }
            if (Volatile.Read(ref _current) is null)
            {
                return false; // disposed meanwhile
            }
            // Another attempt loaded it meanwhile, maybe from bytes read before the change that called this: read again.
        }
        await _reloadLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var started = Stopwatch.GetTimestamp();
            // What the last failed attempt built its session from (the bytes' hash and the settings read beside them),
            // and its error: the same again fails the same way, so it is not parsed again while a deploy finishes.
            FailedBuild? failed = null;
            while (true)
            {
                BuiltFrom? builtFrom = null;
                try
                {
                    var bytes = await _loader.ReadModelAsync(cancellationToken).ConfigureAwait(false);
                    var current = Current;
                    var hash = Hash(bytes);
                    if (hash == current.Info.Sha256)
                    {
                        _lastError = null;
                        return false;
                    }
                    // Read before the shortcut: a sidecar still being copied fails here, and is read again next time.
                    var settings = await _loader.ReadSessionSettingsAsync(cancellationToken).ConfigureAwait(false);
                    builtFrom = new BuiltFrom(hash, settings);
                    FailedBuild.ThrowIfSame(failed, builtFrom);
                    var next = CreateGeneration(bytes, settings);
                    ModelGeneration<TIn, TOut>? previous;
                    lock (_swapLock)
                    {
                        if (_disposing.IsCancellationRequested)
                        {
                            next.Release(); // removed while loading: never serve it
                            return false;
                        }
                        previous = Interlocked.Exchange(ref _current, next)!;
                    }
                    previous.Release();
                    _lastError = null;
                    _pool.Metrics.RecordReload(Name);
                    _logger.LogInformation("Reloaded model {Model} from {Source}: generation {Previous} -> {Generation} (sha256 {Sha256})",
                        LogName, _loader.Source, previous.Number, next.Number, next.Info.Sha256);
                    _pool.RaiseReloaded(new ModelReloadedEventArgs(Name, next.Info, previous.Number));
                    _reloaded.Fire();
                    return true;
                }
                catch (Exception ex) when (ex is not OperationCanceledException && !_disposing.IsCancellationRequested)
                {
                    if (MayBeTornWrite(ex) && Stopwatch.GetElapsedTime(started) < _options.ReloadTimeout)
                    {
                        failed = FailedBuild.After(failed, builtFrom, ex);
                        _logger.LogDebug("Model {Model} from {Source} does not load yet ({Error}); retrying", LogName, _loader.Source, ex.Message);
                        await Task.Delay(_options.ReloadRetryInterval, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    _lastError = ex.Message;
                    _lastErrorAt = DateTimeOffset.UtcNow;
                    _pool.Metrics.RecordReloadFailure(Name);
                    _logger.LogWarning(ex, "Reload of model {Model} from {Source} failed; generation {Generation} keeps serving",
                        LogName, _loader.Source, Current.Number);
                    _pool.RaiseReloadFailed(new ModelReloadFailedEventArgs(Name, ex, Current.Number));
                    throw;
                }
            }
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    private ModelGeneration<TIn, TOut> CreateGeneration(byte[] bytes, RecordedSessionSettings? recorded)
    {
        InferenceSession? session = null;
        var hash = Hash(bytes);
        if (recorded?.ModelSha256 is { } recordedFor && !string.Equals(recordedFor, hash, StringComparison.OrdinalIgnoreCase))
        {
            // Settings measured for other bytes (a model deployed without its sidecar) say nothing about this model.
            _logger.LogWarning("Ignoring the session settings in {File}: they were measured for a model with sha256 {Recorded}, not this one ({Sha256})",
                recorded.Source, recordedFor, hash);
            recorded = null;
        }
        var settings = _options.Session.Resolve(recorded);
        InferenceSession? solo = null;
        var shared = settings.ForOverlappingCalls();
        using (var sessionOptions = _options.Session.Create(Name, shared))
        using (var soloOptions = ReferenceEquals(shared, settings) ? null : _options.Session.Create(Name, settings))
        {
            try
            {
                _pool.CountSessionBuild();
                session = new InferenceSession(bytes, sessionOptions);
                solo = soloOptions is null ? null : new InferenceSession(bytes, soloOptions);
            }
            catch (OnnxRuntimeException ex)
            {
                session?.Dispose();
                throw new ModelRuntimeException(RuntimeErrorCodes.ModelLoadFailed,
                    $"Model '{Name}' from '{_loader.Source}' ({bytes.Length} bytes) could not be loaded by ONNX Runtime: {ex.Message}",
                    $"Check that '{_loader.Source}' is a complete, valid ONNX model (try it with `modelbuild inspect`).", Name, ex);
            }
        }
        try
        {
            var map = TensorMap<TIn, TOut>.Build(Name, session, _options.Tokenizers.TryGetValue(Name, out var tokenizer) ? tokenizer : null);
            var number = Interlocked.Increment(ref _generationCounter);
            var info = new ModelInfo(Name, _loader.Source, number, hash, bytes.Length, DateTimeOffset.UtcNow,
                Describe(session.InputMetadata), Describe(session.OutputMetadata)) { Session = settings };
            var generation = new ModelGeneration<TIn, TOut>(Name, number, session, map, info, _options.MaximumEnginesPerModel, _pool.LiveSessions, solo);
            // One context built up front, so the first call after a swap does not pay for buffers and bindings.
            // (With a solo session: the first rent is its context, the second a one-thread one.)
            var first = generation.Rent();
            var second = solo is null ? null : generation.Rent();
            if (second is not null) generation.Return(second);
            generation.Return(first);
            return generation;
        }
        catch
        {
            session.Dispose();
            solo?.Dispose();
            throw;
        }
    }

    /// <summary>What a session is built from: the model bytes' SHA-256 and the session settings read beside them.</summary>
    private sealed record BuiltFrom(string Sha256, RecordedSessionSettings? Settings);

    /// <summary>
    /// A session that ONNX Runtime could not build from <see cref="Key"/>, and its error, captured once: thrown again for
    /// the same key, it keeps one stack trace (rethrowing the exception object itself would append one per retry).
    /// </summary>
    private sealed record FailedBuild(BuiltFrom Key, System.Runtime.ExceptionServices.ExceptionDispatchInfo Error)
    {
        /// <summary>
        /// The failure to remember after an attempt on <paramref name="key"/> (null: the source was not read) failed with
        /// <paramref name="ex"/>: the previous one when it was the same key again; a new one when ONNX Runtime refused
        /// these bytes (the same bytes are refused the same way); none for any other error, which may not recur.
        /// </summary>
        public static FailedBuild? After(FailedBuild? previous, BuiltFrom? key, Exception ex) =>
            key is null ? previous
            : previous is not null && previous.Key == key ? previous
            : ex is ModelRuntimeException { Code: RuntimeErrorCodes.ModelLoadFailed, InnerException: OnnxRuntimeException }
                ? new FailedBuild(key, System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex))
                : null;

        /// <summary>Throws <paramref name="failed"/>'s error again when <paramref name="key"/> is what it failed on.</summary>
        public static void ThrowIfSame(FailedBuild? failed, BuiltFrom key)
        {
            if (failed is not null && failed.Key == key) failed.Error.Throw();
        }
    }

    /// <summary>
    /// A failure that a source still being written (a torn file, a sidecar half copied) or a network hiccup explains,
    /// so retrying can end it. A model that was read and loaded but does not fit the classes or the tokenizer
    /// (MB0702-MB0708, MB0711, MB0731-MB0733) fails the same way on every attempt: it is reported at once, not retried
    /// for the whole ReloadTimeout.
    /// </summary>
    private static bool MayBeTornWrite(Exception ex) => ex is not ModelRuntimeException m
        || m.Code is RuntimeErrorCodes.ModelLoadFailed or RuntimeErrorCodes.DownloadFailed or RuntimeErrorCodes.SessionSettingsMalformed;

    private static string Hash(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static TensorInfo[] Describe(IReadOnlyDictionary<string, NodeMetadata> metadata) =>
        [.. metadata.Select(m => new TensorInfo(m.Key,
            m.Value.IsTensor ? m.Value.ElementDataType.ToString() : m.Value.OnnxValueType.ToString(),
            m.Value.IsTensor ? m.Value.Dimensions.Select(d => (long)d).ToArray() : []))];

    public void Dispose()
    {
        ModelGeneration<TIn, TOut>? current;
        lock (_swapLock)
        {
            _disposing.Cancel();
            current = Interlocked.Exchange(ref _current, null);
        }
        _changeRegistration?.Dispose();
        _loader.Dispose();
        current?.Release();
        _reloaded.Dispose();
    }
}
