using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;
using ModelBuild.Runtime.Sessions;

namespace ModelBuild.Runtime;

/// <summary>
/// Named ONNX models served to <typeparamref name="TIn"/> -> <typeparamref name="TOut"/> predictions, thread-safe,
/// with the API of Microsoft.Extensions.ML's PredictionEnginePool. Each model has one InferenceSession per
/// generation shared by all callers and a bounded pool of per-call contexts with pre-allocated buffers, so a warm
/// <see cref="Predict(string, TIn, TOut)"/> allocates nothing on the managed heap.
/// </summary>
public sealed class PredictionEnginePool<TIn, TOut> : IDisposable
    where TIn : class
    where TOut : class, new()
{
    /// <summary>The name used by FromFile(path)/FromUri(uri) and the name-less overloads (as in Microsoft.Extensions.ML).</summary>
    public const string DefaultModelName = "";

    private readonly ConcurrentDictionary<string, ModelEntry<TIn, TOut>> _models = new(StringComparer.Ordinal);
    private readonly PredictionEnginePoolOptions<TIn, TOut> _options;
    private readonly IServiceProvider? _services;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly bool _ownsMetrics;
    private readonly object _registrationLock = new();
    private bool _disposed;

    public PredictionEnginePool(PredictionEnginePoolOptions<TIn, TOut> options, IServiceProvider? services = null,
        ILoggerFactory? loggerFactory = null, RuntimeMetrics? metrics = null)
    {
        _options = options;
        _services = services;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger<PredictionEnginePool<TIn, TOut>>();
        _ownsMetrics = metrics is null;
        Metrics = metrics ?? new RuntimeMetrics();
        try
        {
            foreach (var registration in options.Models)
            {
                // A configured model whose source cannot be read yet waits for it; the others serve meanwhile.
                AddModel(registration.Name, registration.CreateLoader(services ?? EmptyServiceProvider.Instance, LoaderContext), waitForSource: true);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Raised after a new generation of a model was swapped in.</summary>
    public event EventHandler<ModelReloadedEventArgs>? ModelReloaded;

    /// <summary>Raised when a reload failed; the previous generation keeps serving.</summary>
    public event EventHandler<ModelReloadFailedEventArgs>? ModelReloadFailed;

    public IReadOnlyCollection<string> ModelNames => [.. _models.Keys];

    internal RuntimeMetrics Metrics { get; }

    internal LiveSessionCounter LiveSessions { get; } = new();

    /// <summary>Sessions not yet disposed, over all models and generations (test hook for reload leak checks).</summary>
    internal int LiveSessionCount => LiveSessions.Count;

    private int _sessionBuilds;

    /// <summary>Sessions ONNX Runtime was asked to build, loaded or not (test hook: a retry of the same bytes builds none).</summary>
    internal int SessionBuilds => Volatile.Read(ref _sessionBuilds);

    internal void CountSessionBuild() => Interlocked.Increment(ref _sessionBuilds);

    internal ModelLoaderContext LoaderContext => new(_options.FileChangeDebounce, _options.DownloadRetries, _options.DownloadRetryDelay, _loggerFactory);

    // ---- Predict ----------------------------------------------------------------------------------------------

    public TOut Predict(TIn input) => Predict(DefaultModelName, input);

    public TOut Predict(string modelName, TIn input)
    {
        var output = new TOut();
        Predict(modelName, input, output);
        return output;
    }

    /// <summary>Runs the model and fills the caller-owned <paramref name="output"/> (its arrays are reused when their length fits).</summary>
    public void Predict(string modelName, TIn input, TOut output)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        RunOnCurrentGeneration(modelName, 1, (input, output), static (generation, io) =>
        {
            var context = generation.Rent();
            try
            {
                context.Run(io.input, io.output);
            }
            finally
            {
                generation.Return(context);
            }
        });
    }

    /// <summary>Predicts many rows with one ONNX Runtime call over the model's dynamic batch axis.</summary>
    public TOut[] PredictBatch(string modelName, IReadOnlyList<TIn> inputs)
    {
        var outputs = new TOut[inputs.Count];
        for (int i = 0; i < outputs.Length; i++)
        {
            outputs[i] = new TOut();
        }
        PredictBatch(modelName, inputs, outputs);
        return outputs;
    }

    public TOut[] PredictBatch(IReadOnlyList<TIn> inputs) => PredictBatch(DefaultModelName, inputs);

    /// <summary>Batch prediction into caller-owned outputs (same count as inputs).</summary>
    public void PredictBatch(string modelName, IReadOnlyList<TIn> inputs, IList<TOut> outputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        if (outputs.Count != inputs.Count)
        {
            throw new ArgumentException($"{outputs.Count} outputs for {inputs.Count} inputs.", nameof(outputs));
        }
        if (inputs.Count == 0)
        {
            return;
        }
        RunOnCurrentGeneration(modelName, inputs.Count, (inputs, outputs, modelName), static (generation, io) =>
        {
            if (!generation.Map.SupportsBatch)
            {
                throw new ModelRuntimeException(RuntimeErrorCodes.NoBatchAxis,
                    $"Model '{io.modelName}' has no dynamic leading (batch) dimension on every mapped input and output, so {io.inputs.Count} rows cannot run as one batch.",
                    "Export the model with a dynamic batch axis (e.g. torch.onnx.export dynamic_axes={'input': {0: 'N'}}) or call Predict per row.", io.modelName);
            }
            var context = generation.RentBatch(io.inputs.Count);
            try
            {
                context.RunBatch(io.inputs, io.outputs);
            }
            finally
            {
                generation.ReturnBatch(context);
            }
        });
    }

    /// <summary>
    /// One call on the model's current generation: holds it for the call (a reload disposes it only after the last
    /// holder releases it) and records <paramref name="rows"/> predictions in the metrics. <paramref name="run"/> is a
    /// static lambda with its state passed in, so a call allocates nothing here.
    /// </summary>
    private void RunOnCurrentGeneration<TState>(string modelName, int rows, TState state, Action<ModelGeneration<TIn, TOut>, TState> run)
    {
        var metrics = Metrics;
        long started = metrics.PredictionsEnabled ? Stopwatch.GetTimestamp() : 0;
        var generation = GetEntry(modelName).Acquire();
        try
        {
            run(generation, state);
        }
        finally
        {
            generation.Release();
        }
        if (started != 0)
        {
            metrics.RecordPrediction(modelName, started, rows);
        }
    }

    /// <summary>
    /// Runs the prediction on the thread pool. Inference is CPU-bound, so this only frees the calling thread;
    /// prefer <see cref="Predict(string, TIn)"/> on request threads for small models.
    /// </summary>
    public Task<TOut> PredictAsync(string modelName, TIn input, CancellationToken cancellationToken = default) =>
        Task.Run(() => Predict(modelName, input), cancellationToken);

    public Task<TOut> PredictAsync(TIn input, CancellationToken cancellationToken = default) =>
        PredictAsync(DefaultModelName, input, cancellationToken);

    // ---- Engines and leases -----------------------------------------------------------------------------------

    public PredictionEngine<TIn, TOut> GetPredictionEngine() => GetPredictionEngine(DefaultModelName);

    /// <summary>Takes an engine bound to the current generation; give it back with <see cref="ReturnPredictionEngine(string, PredictionEngine{TIn, TOut})"/>.</summary>
    public PredictionEngine<TIn, TOut> GetPredictionEngine(string modelName)
    {
        var generation = GetEntry(modelName).Acquire();
        try
        {
            var context = generation.Rent();
            var engine = context.Engine ??= new PredictionEngine<TIn, TOut>(context);
            engine.IsRented = true;
            return engine;
        }
        catch
        {
            generation.Release();
            throw;
        }
    }

    public void ReturnPredictionEngine(PredictionEngine<TIn, TOut> engine) => ReturnPredictionEngine(DefaultModelName, engine);

    /// <summary>Returns an engine; the generation it ran on is released (and disposed if it was replaced and this was its last lease).</summary>
    public void ReturnPredictionEngine(string modelName, PredictionEngine<TIn, TOut> engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var generation = engine.Context.Generation;
        if (!string.Equals(generation.ModelName, modelName, StringComparison.Ordinal))
        {
            throw new ArgumentException($"The engine belongs to model '{generation.ModelName}', not '{modelName}'.", nameof(modelName));
        }
        if (!engine.IsRented)
        {
            throw new InvalidOperationException("The prediction engine was already returned to the pool.");
        }
        engine.IsRented = false;
        generation.Return(engine.Context);
        generation.Release();
    }

    /// <summary>An engine that returns itself when disposed: <c>using var lease = pool.LeaseEngine("wine");</c>.</summary>
    public PredictionEngineLease<TIn, TOut> LeaseEngine(string modelName) => new(this, modelName, GetPredictionEngine(modelName));

    // ---- Models -----------------------------------------------------------------------------------------------

    /// <summary>Loads a model now and serves it under <paramref name="modelName"/>; the pool owns the loader. Throws (MB07xx) if it does not load.</summary>
    public void AddModel(string modelName, ModelLoader loader) => AddModel(modelName, loader, waitForSource: false);

    private void AddModel(string modelName, ModelLoader loader, bool waitForSource)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        ArgumentNullException.ThrowIfNull(loader);
        lock (_registrationLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_models.ContainsKey(modelName))
            {
                loader.Dispose();
                throw new ModelRuntimeException(RuntimeErrorCodes.DuplicateModel,
                    $"A model named '{modelName}' is already registered in the pool for {typeof(TIn).Name} -> {typeof(TOut).Name}.",
                    "Use another name, or RemoveModel it first (ReloadAsync swaps a new version in place).", modelName);
            }
            var entry = new ModelEntry<TIn, TOut>(modelName, loader, _options, this, _loggerFactory.CreateLogger(modelName.Length == 0 ? "ModelBuild.Runtime.Model" : $"ModelBuild.Runtime.Model.{modelName}"));
            try
            {
                entry.LoadInitial(waitForSource);
            }
            catch
            {
                entry.Dispose();
                throw;
            }
            _models[modelName] = entry;
        }
    }

    public void AddModelFromFile(string modelName, string filePath, bool watchForChanges = false) =>
        AddModel(modelName, new FileModelLoader(filePath, watchForChanges, _options.FileChangeDebounce, _loggerFactory.CreateLogger<FileModelLoader>()));

    public void AddModelFromUri(string modelName, Uri uri, TimeSpan period)
    {
        var factory = _services?.GetService<IHttpClientFactory>();
        Func<HttpClient> client = factory is not null ? () => factory.CreateClient(UriModelLoader.HttpClientName) : SharedHttpClient.Get;
        AddModel(modelName, new UriModelLoader(uri, period, client, _options.DownloadRetries, _options.DownloadRetryDelay, _loggerFactory.CreateLogger<UriModelLoader>()));
    }

    /// <summary>Stops serving a model; calls in flight finish, then its session is disposed.</summary>
    public bool RemoveModel(string modelName)
    {
        lock (_registrationLock)
        {
            if (!_models.TryRemove(modelName, out var entry))
            {
                return false;
            }
            entry.Dispose();
            _logger.LogInformation("Removed model {Model}", ModelDisplayName.Of(modelName));
            return true;
        }
    }

    /// <summary>Reloads from the source now. Returns false if the bytes are unchanged; throws (MB07xx) if the new model does not load, in which case the old one keeps serving.</summary>
    public Task<bool> ReloadAsync(string modelName, CancellationToken cancellationToken = default) =>
        GetEntry(modelName).ReloadAsync(cancellationToken);

    public ModelInfo GetModelInfo(string modelName) => GetEntry(modelName).Current.Info;

    public ModelInfo GetModelInfo() => GetModelInfo(DefaultModelName);

    public IReadOnlyList<ModelStatus> GetModelStatuses() => [.. _models.Values.Select(e => e.Status).OrderBy(s => s.Name, StringComparer.Ordinal)];

    /// <summary>A change token that fires after the next successful reload of the model.</summary>
    public IChangeToken GetReloadToken(string modelName) => GetEntry(modelName).ReloadedToken;

    internal void RaiseReloaded(ModelReloadedEventArgs args) => Raise(ModelReloaded, args);

    internal void RaiseReloadFailed(ModelReloadFailedEventArgs args) => Raise(ModelReloadFailed, args);

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        try
        {
            handler?.Invoke(this, args);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "A {Event} handler threw", typeof(T).Name);
        }
    }

    private ModelEntry<TIn, TOut> GetEntry(string modelName)
    {
        // Disposing empties the registry: without this a call after it would say "not registered" (MB0706).
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        if (_models.TryGetValue(modelName, out var entry))
        {
            return entry;
        }
        throw new ModelRuntimeException(RuntimeErrorCodes.UnknownModel,
            $"No model named '{modelName}' is registered in the pool for {typeof(TIn).Name} -> {typeof(TOut).Name} (registered: {string.Join(", ", _models.Keys.Select(k => $"'{k}'"))}).",
            $"Register it with AddPredictionEnginePool<{typeof(TIn).Name}, {typeof(TOut).Name}>().FromFile(\"{modelName}\", ...) or AddModelFromFile.", modelName);
    }

    public void Dispose()
    {
        lock (_registrationLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach (var name in _models.Keys)
            {
                if (_models.TryRemove(name, out var entry))
                {
                    entry.Dispose();
                }
            }
            if (_ownsMetrics)
            {
                Metrics.Dispose();
            }
        }
    }

    private sealed class EmptyServiceProvider : IServiceProvider
    {
        public static readonly EmptyServiceProvider Instance = new();
        public object? GetService(Type serviceType) => null;
    }
}

/// <summary>Used when the pool is created without IHttpClientFactory: one long-lived client (no socket exhaustion).</summary>
internal static class SharedHttpClient
{
    private static readonly Lazy<HttpClient> Client = new(() => new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }));
    public static HttpClient Get() => Client.Value;
}
