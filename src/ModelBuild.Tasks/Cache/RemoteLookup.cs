using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Tasks.Diagnostics;
using ModelBuild.Tasks.Worker;

namespace ModelBuild.Tasks.Cache;

/// <summary>
/// Looks a key up in the remote cache with <c>modelbuild cache fetch</c>, which downloads a verified entry into the
/// primary cache folder (see <see cref="RemoteCacheConfiguration"/> for why in a child process). Never fails the
/// build: whatever goes wrong is a warning, and a store failure turns the remote cache off for this build.
/// </summary>
internal sealed class RemoteLookup(WorkerHost host, RemoteCacheConfiguration remote, TaskLoggingHelper log, int timeoutSeconds, CancellationToken cancellation)
{
    public void Fetch(ITaskItem model, string name, string key, ModelCache cache)
    {
        var lookup = host.Process(["cache", "fetch", "--key", key, "--into", cache.PrimaryDirectory], host.LogFile(name, key, ".remote"));
        log.LogMessage(MessageImportance.Low, $"ModelBuild: {name}: remote lookup in {remote.Display}: {lookup.FileName} {string.Join(" ", lookup.Arguments)}");
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        bounded.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            var exit = lookup.Run((line, _) => Forward(model, name, line), bounded.Token);
            if (exit is null && !cancellation.IsCancellationRequested)
            {
                log.LogWarning("ModelBuild", TaskCodes.RemoteUnreachable, null, model.ItemSpec, 0, 0, 0, 0,
                    $"{name}: the remote lookup in {remote.Display} took longer than {timeoutSeconds} s and was stopped; the remote cache is not used for the rest of this build. Fix: check the network and the store.");
                remote.Disable();
            }
            else if (exit is not null and not 0 && exit != 2)
            {
                log.LogWarning("ModelBuild", TaskCodes.RemoteStoreFailed, null, model.ItemSpec, 0, 0, 0, 0,
                    $"{name}: the remote lookup failed (exit code {exit}); see {lookup.LogFile}. The remote cache is not used for the rest of this build. Fix: read the log.");
                remote.Disable();
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            log.LogWarning("ModelBuild", TaskCodes.RemoteStoreFailed, null, model.ItemSpec, 0, 0, 0, 0,
                $"{name}: the remote lookup could not start ({e.Message}); the remote cache is not used. Fix: run the build with the dotnet CLI.");
            remote.Disable();
        }
    }

    private void Forward(ITaskItem model, string name, string line)
    {
        if (!WorkerProtocol.TryParse(line, out var kind, out var code, out var text))
        {
            log.LogMessage(MessageImportance.Low, $"  {name}: {line}");
            return;
        }
        if (kind is "warning" or "error")
        {
            // The cache never fails a build: even the lookup's errors (a bad location) are warnings.
            log.LogWarning("ModelBuild", code, null, model.ItemSpec, 0, 0, 0, 0, $"{name}: {WorkerLineForwarder.Message(text)}");
            remote.Observe(code);
        }
        else
        {
            log.LogMessage(MessageImportance.Normal, $"ModelBuild: {name}: {text}");
        }
    }
}
