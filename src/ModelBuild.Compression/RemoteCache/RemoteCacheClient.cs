using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ModelBuild.Compression.RemoteCache;

/// <summary>
/// Read-through and write-back of whole cache entries (a CompressModel result, or one stage's output) against an
/// <see cref="IRemoteCacheStore"/>, in the layout of <see cref="RemoteCacheLayout"/>:
/// <list type="bullet">
/// <item><see cref="TryFetch"/> reads the manifest, checks its signature when a signing key is set, downloads each
/// file into a staging folder, checks every size and SHA-256, and only then renames the folder into place. A
/// corrupted, truncated or untrusted entry is discarded with a warning and never used.</item>
/// <item><see cref="Publish"/> uploads the files as content-addressed blobs, then creates the manifest only if it does
/// not exist: the first writer of a key wins, the others keep their local result, and no reader ever sees an entry
/// whose blobs are not all there.</item>
/// </list>
/// The store failing never fails the caller: the first failure is one warning and the client stops using the store
/// for the rest of the process.
/// </summary>
public sealed class RemoteCacheClient(IRemoteCacheStore store, RemoteCacheMode mode, string? signingKey, IRemoteCacheLog log)
{
    /// <summary>How long one whole fetch or publish may take, on top of the SDK's per-request time-outs.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromMinutes(10);

    public IRemoteCacheStore Store => store;
    public RemoteCacheMode Mode => mode;
    /// <summary>False once the store failed (the warning was given) or when the mode is Off.</summary>
    public bool Available { get; private set; } = mode != RemoteCacheMode.Off;
    public bool CanWrite => Available && mode == RemoteCacheMode.ReadWrite;

    private bool prepared;

    /// <summary>
    /// Downloads the entry <paramref name="key"/> into <paramref name="entryDirectory"/> (which must not exist yet).
    /// True on a verified hit; false on a miss, a rejected entry or a store failure (each with its message).
    /// </summary>
    public bool TryFetch(string kind, string key, string entryDirectory, string what)
    {
        if (!Available) return false;
        var clock = Stopwatch.StartNew();
        var staging = $"{entryDirectory}.{Environment.ProcessId}.{Guid.NewGuid():N}.remote.tmp";
        try
        {
            return Guarded(what, $"for {what}", "the local cache", cancellation =>
            {
                var manifestBytes = store.TryReadAsync(RemoteCacheLayout.Manifest(kind, key), cancellation).GetAwaiter().GetResult();
                if (manifestBytes is null)
                {
                    log.Info(string.Format(CultureInfo.InvariantCulture, "{0}: remote miss (key {1}) in {2:0.000} s", what, Short(key), clock.Elapsed.TotalSeconds));
                    return false;
                }
                var manifest = CacheManifest.TryParse(Encoding.UTF8.GetString(manifestBytes));
                if (manifest is null || manifest.Key != key || manifest.Kind != kind || manifest.Files.Any(f => !CacheManifest.IsPlainFileName(f.Name)))
                {
                    Reject(RemoteCacheCodes.EntryCorrupt, what, key, "its manifest is malformed or names another entry");
                    return false;
                }
                if (signingKey is not null && !manifest.HasValidSignature(signingKey))
                {
                    log.Warning(RemoteCacheCodes.EntryUntrusted,
                        $"{what}: the remote entry {Short(key)} in {store.Display} is {(manifest.Signature is null ? "unsigned" : "signed with another key")}; ignored.",
                        "Only entries written by a build with the same ModelBuildRemoteCacheSigningKey (trusted CI) are used; the model is built locally.");
                    return false;
                }

                Directory.CreateDirectory(staging);
                long bytes = 0;
                foreach (var file in manifest.Files)
                {
                    using (var output = File.Create(Path.Combine(staging, file.Name)))
                    {
                        if (!store.TryDownloadAsync(RemoteCacheLayout.Blob(file.Sha256), output, cancellation).GetAwaiter().GetResult())
                        {
                            output.Close();
                            Reject(RemoteCacheCodes.EntryCorrupt, what, key, $"the blob of {file.Name} is missing");
                            return false;
                        }
                        bytes += output.Length;
                    }
                }
                if (manifest.Verify(staging) is { } problem)
                {
                    Reject(RemoteCacheCodes.EntryCorrupt, what, key, problem);
                    return false;
                }
                File.WriteAllBytes(Path.Combine(staging, CacheManifest.FileName), manifestBytes);
                try
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(entryDirectory))!);
                    Directory.Move(staging, entryDirectory);
                }
                catch (IOException) when (Directory.Exists(entryDirectory))
                {
                    // Another build put the same entry there first; it is equally valid.
                }
                log.Info(string.Format(CultureInfo.InvariantCulture, "{0}: remote hit (key {1}) downloaded {2:N0} B in {3:0.000} s from {4}",
                    what, Short(key), bytes, clock.Elapsed.TotalSeconds, store.Display));
                return true;
            });
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// Uploads the files of <paramref name="entryDirectory"/> as the entry <paramref name="key"/> (ReadWrite only).
    /// True when this call created the entry; false when it was there already, another writer won, or the store failed.
    /// </summary>
    public bool Publish(string kind, string key, string entryDirectory, string what)
    {
        if (!CanWrite) return false;
        var clock = Stopwatch.StartNew();
        return Guarded(what, $"to upload {what}", "the local result", cancellation =>
        {
            var manifestName = RemoteCacheLayout.Manifest(kind, key);
            if (store.ExistsAsync(manifestName, cancellation).GetAwaiter().GetResult())
            {
                log.Info($"{what}: already in the remote cache (key {Short(key)}); not uploaded");
                return false;
            }
            var manifest = CacheManifest.ForDirectory(kind, key, entryDirectory);
            if (signingKey is not null) manifest.Sign(signingKey);
            long bytes = 0;
            foreach (var file in manifest.Files)
            {
                // Blobs first: the manifest below is what makes the entry visible, so it must come last.
                store.UploadAsync(RemoteCacheLayout.Blob(file.Sha256), Path.Combine(entryDirectory, file.Name), cancellation).GetAwaiter().GetResult();
                bytes += file.Bytes;
            }
            if (!store.TryCreateAsync(manifestName, Encoding.UTF8.GetBytes(manifest.ToJson()), cancellation).GetAwaiter().GetResult())
            {
                log.Info($"{what}: another build uploaded key {Short(key)} first; its entry stays, this build keeps its local result");
                return false;
            }
            log.Info(string.Format(CultureInfo.InvariantCulture, "{0}: uploaded (key {1}) {2} file(s), {3:N0} B in {4:0.000} s to {5}",
                what, Short(key), manifest.Files.Count, bytes, clock.Elapsed.TotalSeconds, store.Display));
            return true;
        });
    }

    /// <summary>
    /// Runs one operation on the store within <see cref="OperationTimeout"/>, the store prepared first. A store error,
    /// the timeout (<paramref name="timedOut"/>: what took too long; <paramref name="goesOnWith"/>: what the build uses
    /// instead) or an unexpected error is reported once and gives false: the remote cache never fails a build.
    /// </summary>
    private bool Guarded(string what, string timedOut, string goesOnWith, Func<CancellationToken, bool> operation)
    {
        try
        {
            using var timeout = new CancellationTokenSource(OperationTimeout);
            Prepare(timeout.Token);
            return operation(timeout.Token);
        }
        catch (RemoteCacheException e)
        {
            Fail(e);
            return false;
        }
        catch (OperationCanceledException)
        {
            Fail(new RemoteCacheException(RemoteCacheCodes.Unreachable, $"The remote cache {store.Display} took longer than {OperationTimeout.TotalSeconds:0} s {timedOut}.",
                $"Check the network; the build went on with {goesOnWith}."));
            return false;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Fail(Unexpected(e, what));
            return false;
        }
    }

    /// <summary>Anything else the SDK or the disk threw: still only a warning (the type, not the message, which may quote a request).</summary>
    private RemoteCacheException Unexpected(Exception e, string what) =>
        new(RemoteCacheCodes.StoreFailed, $"The remote cache {store.Display} failed for {what} ({e.GetType().Name}).",
            "Run `modelbuild cache list --remote-cache ...` to reproduce; the build went on with the local cache.");

    private void Prepare(CancellationToken cancellation)
    {
        if (prepared) return;
        store.PrepareAsync(cancellation).GetAwaiter().GetResult();
        prepared = true;
    }

    private void Reject(string code, string what, string key, string problem) =>
        log.Warning(code, $"{what}: the remote entry {Short(key)} in {store.Display} failed verification ({problem}); discarded, not used.",
            "Nothing to do for this build, which builds the model itself; `modelbuild cache verify --remote-cache ...` lists the damaged entries.");

    private void Fail(RemoteCacheException e)
    {
        Available = false;
        log.Warning(e.Code, e.Cause + " The remote cache is not used for the rest of this build.", e.Remedy);
    }

    private static string Short(string key) => key.Length > 12 ? key[..12] : key;
}

/// <summary>Where the remote cache's messages go (the worker protocol in a build, the terminal in the CLI).</summary>
public interface IRemoteCacheLog
{
    void Info(string text);
    void Warning(string code, string cause, string remedy);
}
