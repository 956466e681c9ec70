using System.CommandLine;
using System.Globalization;
using System.Text;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.RemoteCache;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// <c>modelbuild cache list|prune|verify|fetch</c>: housekeeping of the local cache folder (<c>--local</c>, e.g.
/// obj/modelbuild/cache or ModelBuildCacheDir) and of the remote cache (<c>--remote-cache</c>). <c>fetch</c> is what
/// the build task runs for a remote lookup. Exit 0 success, 1 when verify finds a damaged entry, 2 bad input.
/// </summary>
internal static class CacheCommand
{
    private const string LocalStageFolder = "stages";

    public static Command Create()
    {
        var command = new Command("cache", """
            Inspect and tidy the compression caches: the local one (--local <folder>) and the remote one (--remote-cache).

            Examples:
              modelbuild cache list --local obj/modelbuild/cache --remote-cache azblob://modelbuild
              modelbuild cache prune --older-than 30d --remote-cache s3://team-cache/modelbuild
              modelbuild cache verify --local ~/.modelbuild-cache
            """);
        command.Subcommands.Add(List());
        command.Subcommands.Add(Prune());
        command.Subcommands.Add(Verify());
        command.Subcommands.Add(Fetch());
        return command;
    }

    /// <summary>
    /// A subcommand over the local cache (<c>--local</c>) and/or the remote one (<c>--remote-cache</c>): both options, the
    /// subcommand's own <paramref name="options"/> between them, and <paramref name="action"/> run with the targets at hand
    /// (<c>targets()</c> checks that one was named and the local folder exists).
    /// </summary>
    private static Command OverCaches(string name, string description, Option[] options,
        Func<ParseResult, Func<(string? Local, RemoteCacheSettings? Remote)>, int> action)
    {
        var local = new Option<string?>("--local") { Description = "A local cache folder (obj/modelbuild/cache of a project, or ModelBuildCacheDir)." };
        var remote = new RemoteCacheOptions();
        var command = new Command(name, description);
        command.Options.Add(local);
        foreach (var option in options) command.Options.Add(option);
        remote.AddTo(command);
        command.SetAction(parse => CommandErrors.Run(() => action(parse, () => Targets(parse, local, remote))));
        return command;
    }

    private static Command List()
    {
        return OverCaches("list", "List the entries (results and stage outputs) with their size and age.", [], (parse, targets) =>
        {
            var (localDir, settings) = targets();
            if (localDir is not null)
                foreach (var e in LocalEntries(localDir)) Row("local", e.Kind, e.Key, e.Bytes, e.LastModified);
            if (settings is not null)
            {
                var store = RemoteStores.Open(settings);
                foreach (var (kind, key, modified) in RemoteManifests(store))
                {
                    var manifest = ReadManifest(store, kind, key);
                    Row("remote", kind, key, manifest?.Files.Sum(f => f.Bytes) ?? 0, modified);
                }
            }
            return 0;
        });
    }

    private static Command Prune()
    {
        var olderThan = new Option<string>("--older-than") { Description = "Remove local entries not used within this age (a hit renews one) and remote ones uploaded before it: 30d, 12h, 90m.", Required = true };
        return OverCaches("prune", "Remove entries older than --older-than: locally not used within it, remotely uploaded before it (and the blobs no remaining entry names).", [olderThan], (parse, targets) =>
        {
            var age = ParseAge(parse.GetValue(olderThan)!);
            var cutoff = DateTimeOffset.UtcNow - age;
            var (localDir, settings) = targets();
            if (localDir is not null)
            {
                var removed = 0;
                foreach (var e in LocalEntries(localDir).Where(e => e.LastModified < cutoff))
                    if (AtomicFile.DiscardDirectory(e.Directory)) removed++; // renamed away first: a build reading it sees it whole or not at all
                Console.WriteLine($"local: removed {removed} entr{(removed == 1 ? "y" : "ies")} older than {parse.GetValue(olderThan)}");
            }
            if (settings is not null)
            {
                var store = RemoteStores.Open(settings);
                var manifests = RemoteManifests(store).ToList();
                var removed = 0;
                var kept = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (kind, key, modified) in manifests)
                {
                    if (modified < cutoff)
                    {
                        // The manifest goes first: the entry disappears whole before any of its blobs does.
                        Sync(c => store.DeleteAsync(RemoteCacheLayout.Manifest(kind, key), c));
                        removed++;
                    }
                    else if (ReadManifest(store, kind, key) is { } manifest)
                    {
                        foreach (var f in manifest.Files) kept.Add(f.Sha256);
                    }
                }
                // Blobs nobody names any more; recent ones may belong to an upload whose manifest is not written yet.
                var blobs = 0;
                foreach (var blob in Sync(c => Collect(store.ListAsync(RemoteCacheLayout.Root + "blobs/", c))))
                {
                    if (RemoteCacheLayout.ParseBlobName(blob.Name) is { } hash && !kept.Contains(hash) && blob.LastModified < cutoff)
                    {
                        Sync(c => store.DeleteAsync(blob.Name, c));
                        blobs++;
                    }
                }
                Console.WriteLine($"remote: removed {removed} entr{(removed == 1 ? "y" : "ies")} and {blobs} unreferenced blob(s) older than {parse.GetValue(olderThan)} from {store.Display}");
            }
            return 0;
        });
    }

    private static Command Verify()
    {
        return OverCaches("verify", "Check every entry's files against its manifest (SHA-256), and remotely its signature when ModelBuildRemoteCacheSigningKey is set. Exit 1 when one is damaged.", [], (parse, targets) =>
        {
            var (localDir, settings) = targets();
            var bad = 0;
            var good = 0;
            if (localDir is not null)
            {
                foreach (var e in LocalEntries(localDir))
                {
                    var manifest = CacheManifest.TryRead(e.Directory);
                    var problem = manifest is null ? (e.Kind == RemoteCacheLayout.EntryKind ? "no manifest" : null) : manifest.Verify(e.Directory);
                    if (problem is null) good++;
                    else { bad++; Console.WriteLine($"local  {e.Kind,-5} {e.Key}  DAMAGED: {problem}"); }
                }
            }
            if (settings is not null)
            {
                var store = RemoteStores.Open(settings);
                foreach (var (kind, key, _) in RemoteManifests(store))
                {
                    var problem = VerifyRemote(store, kind, key, settings.SigningKey);
                    if (problem is null) good++;
                    else { bad++; Console.WriteLine($"remote {kind,-5} {key}  DAMAGED: {problem}"); }
                }
            }
            Console.WriteLine($"{good} entr{(good == 1 ? "y" : "ies")} verified, {bad} damaged");
            return bad == 0 ? 0 : 1;
        });
    }

    /// <summary>The build task's remote lookup: one entry into a local cache folder, with worker-protocol lines.</summary>
    private static Command Fetch()
    {
        var remote = new RemoteCacheOptions();
        var key = new Option<string>("--key") { Description = "The cache key.", Required = true };
        var into = new Option<string>("--into") { Description = "The local cache folder; the entry lands in <folder>/<key>.", Required = true };
        var command = new Command("fetch", "Download one result entry from the remote cache into a local cache folder, verified (used by the build task).");
        command.Options.Add(key);
        command.Options.Add(into);
        remote.AddTo(command);
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var log = new Compression.Pipeline.WorkerProtocolLog();
            var client = remote.Client(parse, log, RemoteCacheMode.Read)
                ?? throw new ModelBuildException(RemoteCacheCodes.BadLocation, "cache fetch needs a remote cache.", "Give --remote-cache or set ModelBuildRemoteCache.");
            var k = parse.GetValue(key)!;
            client.TryFetch(RemoteCacheLayout.EntryKind, k, Path.Combine(parse.GetValue(into)!, k), "result");
            return 0;
        }));
        return command;
    }

    private static (string? Local, RemoteCacheSettings? Remote) Targets(ParseResult parse, Option<string?> local, RemoteCacheOptions remote)
    {
        var localDir = parse.GetValue(local);
        var settings = remote.Settings(parse);
        if (localDir is null && settings is null)
            throw new ModelBuildException(RemoteCacheCodes.BadLocation, "No cache was named.", "Give --local <folder> and/or --remote-cache <location> (or set ModelBuildRemoteCache).");
        if (localDir is not null && !Directory.Exists(localDir))
            throw new ModelBuildException(RemoteCacheCodes.BadLocation, $"The local cache folder '{localDir}' does not exist.", "Point --local at obj/modelbuild/cache or at ModelBuildCacheDir.", localDir);
        return (localDir, settings);
    }

    private sealed record LocalEntry(string Kind, string Key, string Directory, long Bytes, DateTimeOffset LastModified);

    /// <summary>The entry at <paramref name="directory"/>; null when a build's trim (CacheRetention) took it away meanwhile.</summary>
    private static LocalEntry? Describe(string kind, string directory)
    {
        try
        {
            // The short-lived file another user's hit may add is not part of the entry (CacheRetention.MarkUsed).
            var bytes = Directory.GetFiles(directory).Where(f => !CacheRetention.IsTouchFile(Path.GetFileName(f))).Sum(f => new FileInfo(f).Length);
            return new LocalEntry(kind, Path.GetFileName(directory), directory, bytes, Directory.GetLastWriteTimeUtc(directory));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Complete entries only: staging folders (*.tmp) and lock files are not entries.</summary>
    private static IEnumerable<LocalEntry> LocalEntries(string root)
    {
        IEnumerable<LocalEntry> In(string folder, string kind) =>
            !Directory.Exists(folder) ? [] : Directory.GetDirectories(folder)
                .Where(d => CacheRetention.IsKey(Path.GetFileName(d)))
                .OrderBy(d => d, StringComparer.Ordinal)
                .Select(d => Describe(kind, d)).OfType<LocalEntry>();
        return In(root, RemoteCacheLayout.EntryKind).Concat(In(Path.Combine(root, LocalStageFolder), RemoteCacheLayout.StageKind));
    }

    private static IEnumerable<(string Kind, string Key, DateTimeOffset Modified)> RemoteManifests(IRemoteCacheStore store) =>
        Sync(c => Collect(store.ListAsync(RemoteCacheLayout.Root, c)))
            .Select(o => (Parsed: RemoteCacheLayout.ParseManifestName(o.Name), o.LastModified))
            .Where(p => p.Parsed is not null)
            .Select(p => (p.Parsed!.Value.Kind, p.Parsed!.Value.Key, p.LastModified))
            .OrderBy(p => p.Kind, StringComparer.Ordinal).ThenBy(p => p.Key, StringComparer.Ordinal)
            .ToList();

    private static CacheManifest? ReadManifest(IRemoteCacheStore store, string kind, string key) =>
        Sync(c => store.TryReadAsync(RemoteCacheLayout.Manifest(kind, key), c)) is { } bytes ? CacheManifest.TryParse(Encoding.UTF8.GetString(bytes)) : null;

    private static string? VerifyRemote(IRemoteCacheStore store, string kind, string key, string? signingKey)
    {
        var manifest = ReadManifest(store, kind, key);
        if (manifest is null || manifest.Key != key || manifest.Kind != kind || manifest.Files.Any(f => !CacheManifest.IsPlainFileName(f.Name))) return "malformed manifest";
        if (signingKey is not null && !manifest.HasValidSignature(signingKey)) return manifest.Signature is null ? "unsigned" : "bad signature";
        var folder = Directory.CreateTempSubdirectory("modelbuild-verify-").FullName;
        try
        {
            foreach (var f in manifest.Files)
            {
                using var output = File.Create(Path.Combine(folder, f.Name));
                if (!Sync(c => store.TryDownloadAsync(RemoteCacheLayout.Blob(f.Sha256), output, c))) return $"the blob of {f.Name} is missing";
            }
            return manifest.Verify(folder);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static TimeSpan ParseAge(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t.Length >= 2 && double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
        {
            double? days = t[^1] switch { 'd' => n, 'h' => n / 24, 'm' => n / (24 * 60), _ => null };
            // Beyond 100 years the cutoff date would not compute (and no entry is that old): refused, not crashed on.
            if (days is { } d && d <= CacheRetention.MaxDays) return TimeSpan.FromDays(d);
            if (days is not null)
                throw new ModelBuildException("MB0631", $"--older-than '{text}' is more than 100 years.", $"Give at most {CacheRetention.MaxDays}d; to keep everything, do not prune.");
        }
        throw new ModelBuildException("MB0631", $"--older-than '{text}' is not an age.", "Write a number followed by d, h or m: 30d, 12h, 90m.");
    }

    private static void Row(string where, string kind, string key, long bytes, DateTimeOffset modified) =>
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,-6} {1,-5} {2}  {3,12:N0} B  {4:yyyy-MM-dd HH:mm}Z", where, kind, key, bytes, modified.UtcDateTime));

    private static T Sync<T>(Func<CancellationToken, Task<T>> operation)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        return operation(timeout.Token).GetAwaiter().GetResult();
    }

    private static void Sync(Func<CancellationToken, Task> operation)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        operation(timeout.Token).GetAwaiter().GetResult();
    }

    private static async Task<List<RemoteObject>> Collect(IAsyncEnumerable<RemoteObject> objects)
    {
        var list = new List<RemoteObject>();
        await foreach (var o in objects.ConfigureAwait(false)) list.Add(o);
        return list;
    }
}
