using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ModelBuild.Runtime;

/// <summary>
/// Reports each model of a pool: Healthy when every model serves its latest source, Degraded when a reload failed
/// and an older generation keeps serving, Unhealthy (the registration's failure status) when a model waits for a
/// source it could not read or the pool could not be created (a model that is wrong for its classes).
/// </summary>
public sealed class PredictionEnginePoolHealthCheck<TIn, TOut>(IServiceProvider services) : IHealthCheck
    where TIn : class
    where TOut : class, new()
{
    public const string DefaultName = "modelbuild-runtime";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        PredictionEnginePool<TIn, TOut> pool;
        try
        {
            pool = services.GetRequiredService<PredictionEnginePool<TIn, TOut>>();
        }
        catch (Exception ex)
        {
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus, "The prediction engine pool could not be created.", ex));
        }

        var statuses = pool.GetModelStatuses();
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var status in statuses)
        {
            data[ModelDisplayName.Of(status.Name)] = status.State switch
            {
                ModelState.Serving => $"serving generation {status.Generation} loaded {status.LoadedAt:O}",
                ModelState.ServingStale => $"serving stale generation {status.Generation}; last reload failed at {status.LastErrorAt:O}: {status.LastError}",
                _ => $"not loaded (last tried {status.LastErrorAt:O}): {status.LastError}",
            };
        }
        static string Names(IEnumerable<ModelStatus> s) => string.Join(", ", s.Select(m => m.Name.Length == 0 ? ModelDisplayName.Of(m.Name) : $"'{m.Name}'"));
        var waiting = statuses.Where(s => s.State == ModelState.WaitingForSource).ToList();
        var stale = statuses.Where(s => s.State == ModelState.ServingStale).ToList();
        var result = waiting.Count > 0
            ? new HealthCheckResult(context.Registration.FailureStatus, $"Not loaded: {Names(waiting)}; {statuses.Count - waiting.Count} model(s) serving.", data: data)
            : stale.Count == 0
                ? HealthCheckResult.Healthy($"{statuses.Count} model(s) serving.", data)
                : HealthCheckResult.Degraded($"Reload failed for {Names(stale)}; previous generation(s) serving.", data: data);
        return Task.FromResult(result);
    }
}

public static class PredictionEnginePoolHealthChecksBuilderExtensions
{
    /// <summary>Adds a health check reporting the state of every model in the pool.</summary>
    public static IHealthChecksBuilder AddPredictionEnginePoolCheck<TIn, TOut>(this IHealthChecksBuilder builder,
        string name = PredictionEnginePoolHealthCheck<TIn, TOut>.DefaultName, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
        where TIn : class
        where TOut : class, new() =>
        builder.Add(new HealthCheckRegistration(name, sp => new PredictionEnginePoolHealthCheck<TIn, TOut>(sp), failureStatus, tags));
}
