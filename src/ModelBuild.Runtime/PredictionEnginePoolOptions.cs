namespace ModelBuild.Runtime;

/// <summary>Options of a <see cref="PredictionEnginePool{TIn,TOut}"/> (options pattern: configure with the builder's Configure or services.Configure).</summary>
public sealed class PredictionEnginePoolOptions<TIn, TOut>
    where TIn : class
    where TOut : class, new()
{
    /// <summary>Idle per-call contexts kept per model generation; more concurrent callers get temporary ones.</summary>
    public int MaximumEnginesPerModel { get; set; } = Math.Max(2, Environment.ProcessorCount * 2);

    public OnnxSessionOptions Session { get; } = new();

    /// <summary>Quiet time after the last file-system event before a watched file is reloaded.</summary>
    public TimeSpan FileChangeDebounce { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a reload keeps retrying a file that does not load yet (e.g. still being written).</summary>
    public TimeSpan ReloadTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan ReloadRetryInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Retries of a failed HTTP request (FromUri), with exponential back-off from <see cref="DownloadRetryDelay"/>.</summary>
    public int DownloadRetries { get; set; } = 3;

    public TimeSpan DownloadRetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Tokenizers by model name: their models take text (a string property of the input class) instead of token ids.</summary>
    public IDictionary<string, ModelTokenizerOptions> Tokenizers { get; } = new Dictionary<string, ModelTokenizerOptions>(StringComparer.Ordinal);

    internal List<ModelRegistration> Models { get; } = [];
}

/// <summary>A model name and how to create its loader once the service provider exists.</summary>
internal sealed record ModelRegistration(string Name, Func<IServiceProvider, ModelLoaderContext, ModelLoader> CreateLoader);

/// <summary>What a loader factory gets: retry/debounce settings and a logger factory.</summary>
public sealed record ModelLoaderContext(
    TimeSpan FileChangeDebounce,
    int DownloadRetries,
    TimeSpan DownloadRetryDelay,
    Microsoft.Extensions.Logging.ILoggerFactory LoggerFactory);
