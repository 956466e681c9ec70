using System.CommandLine;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.RemoteCache;
using ModelBuild.Compression.StageContract;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// <c>--remote-cache</c> and <c>--remote-cache-mode</c>, shared by <c>compress</c> and <c>cache</c>. Secrets are read
/// only from the environment (<c>ModelBuildRemoteCacheConnectionString</c>, <c>AZURE_STORAGE_CONNECTION_STRING</c>,
/// <c>ModelBuildRemoteCacheSigningKey</c>), never from the command line, which process lists and build logs show;
/// the location too when it carries a SAS (<c>ModelBuildRemoteCache</c>).
/// </summary>
internal sealed class RemoteCacheOptions
{
    public Option<string?> Location { get; } = new("--remote-cache")
    {
        Description = "Team cache on blob storage: https://<account>.blob.core.windows.net/<container>[/prefix], azblob://<container>[/prefix] or s3://<bucket>[/prefix] (default: $ModelBuildRemoteCache).",
    };
    public Option<string?> Mode { get; } = new("--remote-cache-mode") { Description = "ReadWrite | Read | Off (default: ReadWrite when CI is set, else Read)." };

    public void AddTo(Command command)
    {
        command.Options.Add(Location);
        command.Options.Add(Mode);
    }

    /// <summary>The configured location, or null when none is given.</summary>
    public RemoteCacheSettings? Settings(ParseResult parse)
    {
        var location = parse.GetValue(Location) ?? Environment.GetEnvironmentVariable(RemoteCacheSettings.LocationVariable);
        if (string.IsNullOrWhiteSpace(location)) return null;
        return RemoteCacheSettings.Parse(location, null, Environment.GetEnvironmentVariable(RemoteCacheSettings.SigningKeyVariable));
    }

    public RemoteCacheMode ParseMode(ParseResult parse) =>
        RemoteCacheSettings.ParseMode(parse.GetValue(Mode) ?? Environment.GetEnvironmentVariable("ModelBuildRemoteCacheMode"), Environment.GetEnvironmentVariable("CI"));

    /// <summary>The client for a build-like use (compress, fetch), or null when no remote cache is configured or it is Off.</summary>
    public RemoteCacheClient? Client(ParseResult parse, IWorkerLog log, RemoteCacheMode? forcedMode = null)
    {
        var settings = Settings(parse);
        if (settings is null) return null;
        var mode = forcedMode ?? ParseMode(parse);
        return mode == RemoteCacheMode.Off ? null : new RemoteCacheClient(RemoteStores.Open(settings), mode, settings.SigningKey, new WorkerRemoteCacheLog(log));
    }
}

/// <summary>The remote cache's messages as worker protocol lines: progress (shown at normal verbosity) and warnings.</summary>
internal sealed class WorkerRemoteCacheLog(IWorkerLog log) : IRemoteCacheLog
{
    public void Info(string text) => log.Progress("remote cache: " + text);
    public void Warning(string code, string cause, string remedy) => log.Warning(code, cause, remedy);
}
