using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelBuild.Runtime;

// In the DI namespace, like Microsoft.Extensions.ML's extension, so `using Microsoft.Extensions.DependencyInjection;` finds it.
namespace Microsoft.Extensions.DependencyInjection;

public static class PredictionEnginePoolServiceCollectionExtensions
{
    /// <summary>
    /// Registers a singleton <see cref="PredictionEnginePool{TIn,TOut}"/>; add models with the returned builder's
    /// FromFile/FromUri. Models load when the pool is first resolved, so a class/model mismatch fails there with an
    /// MB07xx error; a model whose source cannot be read yet (a URI that does not answer, a missing file) waits for
    /// it instead, and the other models serve (<see cref="ModelState.WaitingForSource"/>).
    /// </summary>
    public static PredictionEnginePoolBuilder<TIn, TOut> AddPredictionEnginePool<TIn, TOut>(this IServiceCollection services)
        where TIn : class
        where TOut : class, new()
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions();
        services.TryAddSingleton(sp => new RuntimeMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(sp => new PredictionEnginePool<TIn, TOut>(
            sp.GetRequiredService<IOptions<PredictionEnginePoolOptions<TIn, TOut>>>().Value,
            sp,
            sp.GetService<ILoggerFactory>(),
            sp.GetRequiredService<RuntimeMetrics>()));
        return new PredictionEnginePoolBuilder<TIn, TOut>(services);
    }
}
