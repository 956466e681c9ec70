using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ModelBuild.Runtime;

/// <summary>Registers models for a pool, as Microsoft.Extensions.ML's PredictionEnginePoolBuilder does.</summary>
public sealed class PredictionEnginePoolBuilder<TIn, TOut>
    where TIn : class
    where TOut : class, new()
{
    /// <summary>Default polling period of FromUri without one (Microsoft.Extensions.ML uses 5 minutes too).</summary>
    public static readonly TimeSpan DefaultUriPeriod = TimeSpan.FromMinutes(5);

    internal PredictionEnginePoolBuilder(IServiceCollection services) => Services = services;

    public IServiceCollection Services { get; }

    /// <summary>The default model (name ""), watched for changes as Microsoft.Extensions.ML's FromFile(filePath) is.</summary>
    public PredictionEnginePoolBuilder<TIn, TOut> FromFile(string filePath) => FromFile(PredictionEnginePool<TIn, TOut>.DefaultModelName, filePath, true);

    /// <summary>A named model, watched for changes (Microsoft.Extensions.ML's default for this overload).</summary>
    public PredictionEnginePoolBuilder<TIn, TOut> FromFile(string modelName, string filePath) => FromFile(modelName, filePath, true);

    public PredictionEnginePoolBuilder<TIn, TOut> FromFile(string filePath, bool watchForChanges) =>
        FromFile(PredictionEnginePool<TIn, TOut>.DefaultModelName, filePath, watchForChanges);

    public PredictionEnginePoolBuilder<TIn, TOut> FromFile(string modelName, string filePath, bool watchForChanges) =>
        AddModel(modelName, (_, context) => new FileModelLoader(filePath, watchForChanges, context.FileChangeDebounce,
            context.LoggerFactory.CreateLogger<FileModelLoader>()));

    public PredictionEnginePoolBuilder<TIn, TOut> FromUri(string uri) => FromUri(PredictionEnginePool<TIn, TOut>.DefaultModelName, new Uri(uri), DefaultUriPeriod);

    public PredictionEnginePoolBuilder<TIn, TOut> FromUri(Uri uri) => FromUri(PredictionEnginePool<TIn, TOut>.DefaultModelName, uri, DefaultUriPeriod);

    public PredictionEnginePoolBuilder<TIn, TOut> FromUri(string uri, TimeSpan period) => FromUri(PredictionEnginePool<TIn, TOut>.DefaultModelName, new Uri(uri), period);

    public PredictionEnginePoolBuilder<TIn, TOut> FromUri(Uri uri, TimeSpan period) => FromUri(PredictionEnginePool<TIn, TOut>.DefaultModelName, uri, period);

    public PredictionEnginePoolBuilder<TIn, TOut> FromUri(string modelName, Uri uri) => FromUri(modelName, uri, DefaultUriPeriod);

    public PredictionEnginePoolBuilder<TIn, TOut> FromUri(string modelName, string uri) => FromUri(modelName, new Uri(uri), DefaultUriPeriod);

    public PredictionEnginePoolBuilder<TIn, TOut> FromUri(string modelName, string uri, TimeSpan period) => FromUri(modelName, new Uri(uri), period);

    /// <summary>Downloads the model through IHttpClientFactory (client "ModelBuild.Runtime") and polls it every <paramref name="period"/>.</summary>
    public PredictionEnginePoolBuilder<TIn, TOut> FromUri(string modelName, Uri uri, TimeSpan period)
    {
        Services.AddHttpClient(UriModelLoader.HttpClientName);
        return AddModel(modelName, (services, context) =>
        {
            var factory = services.GetRequiredService<IHttpClientFactory>();
            return new UriModelLoader(uri, period, () => factory.CreateClient(UriModelLoader.HttpClientName),
                context.DownloadRetries, context.DownloadRetryDelay, context.LoggerFactory.CreateLogger<UriModelLoader>());
        });
    }

    /// <summary>A model from a custom <see cref="ModelLoader"/>.</summary>
    public PredictionEnginePoolBuilder<TIn, TOut> AddModel(string modelName, Func<IServiceProvider, ModelLoaderContext, ModelLoader> createLoader)
    {
        ArgumentNullException.ThrowIfNull(modelName);
        _lastModel = modelName;
        Services.Configure<PredictionEnginePoolOptions<TIn, TOut>>(options => options.Models.Add(new ModelRegistration(modelName, createLoader)));
        return this;
    }

    private string? _lastModel;

    /// <summary>
    /// The model registered last takes text: its input class's string property is tokenized with
    /// <paramref name="tokenizerPath"/> into the model's input_ids / attention_mask / token_type_ids
    /// (<c>.FromFile("intents", "intent.onnx").WithTokenizer("vocab.txt")</c>).
    /// </summary>
    public PredictionEnginePoolBuilder<TIn, TOut> WithTokenizer(string tokenizerPath, int? maxLength = null, bool padToMaxLength = false)
    {
        ArgumentNullException.ThrowIfNull(tokenizerPath);
        var model = _lastModel ?? throw new InvalidOperationException("WithTokenizer applies to the model registered before it: call FromFile, FromUri or AddModel first.");
        var options = new ModelTokenizerOptions { TokenizerPath = tokenizerPath, MaxLength = maxLength, PadToMaxLength = padToMaxLength };
        Services.Configure<PredictionEnginePoolOptions<TIn, TOut>>(o => o.Tokenizers[model] = options);
        return this;
    }

    /// <summary>Pool size, ONNX Runtime session options, reload and download settings.</summary>
    public PredictionEnginePoolBuilder<TIn, TOut> Configure(Action<PredictionEnginePoolOptions<TIn, TOut>> configure)
    {
        Services.Configure(configure);
        return this;
    }

    /// <summary>Registers the pool's health check (needs services.AddHealthChecks(), which this calls).</summary>
    public PredictionEnginePoolBuilder<TIn, TOut> AddHealthCheck(string name = PredictionEnginePoolHealthCheck<TIn, TOut>.DefaultName, IEnumerable<string>? tags = null)
    {
        Services.AddHealthChecks().AddPredictionEnginePoolCheck<TIn, TOut>(name, tags: tags);
        return this;
    }
}
