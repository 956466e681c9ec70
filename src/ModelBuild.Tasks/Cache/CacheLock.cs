using System.Diagnostics;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuild.Tasks.Diagnostics;
using ModelBuild.Tasks.Worker;

namespace ModelBuild.Tasks.Cache;

/// <summary>Waits for the per-key lock another build may hold (MB0609 after the time-out; null when cancelled).</summary>
internal static class CacheLock
{
    public static FileStream? Acquire(ModelCache cache, string key, string name, int timeoutSeconds, TaskLoggingHelper log, CancellationToken cancellation)
    {
        var deadline = Stopwatch.StartNew();
        var announced = false;
        while (true)
        {
            var taken = ModelCache.TryLock(cache.PrimaryDirectory, key);
            if (taken is not null) return taken;
            if (!announced)
            {
                log.LogMessage(MessageImportance.High, $"ModelBuild: {name}: another build is compressing the same inputs (key {WorkerHost.Short(key)}); waiting for it.");
                announced = true;
            }
            if (deadline.Elapsed.TotalSeconds > timeoutSeconds)
            {
                throw new TaskDiagnosticException(TaskCodes.CacheLockTimeout,
                    $"Waited {timeoutSeconds} s for the lock {Path.Combine(cache.PrimaryDirectory, key + ".lock")} held by another build.",
                    "Check for a hung build (modelbuild worker process) and stop it, or raise ModelBuildCacheLockTimeout.", name);
            }
            if (cancellation.WaitHandle.WaitOne(200)) return null;
        }
    }
}
