using System.Text.RegularExpressions;

namespace ModelBuild.Tasks.Cache;

/// <summary>
/// The task's view of the remote cache (<c>ModelBuildRemoteCache*</c> properties). The remote operations themselves
/// run in the worker's executable, not in the MSBuild node: <c>modelbuild cache fetch</c> for a lookup (a short
/// process that loads neither libtorch nor ONNX Runtime) and <c>modelbuild compress</c> for the uploads. Why there:
/// Azure.Storage.Blobs, Azure.Identity (MSAL) and AWSSDK.S3 bring a dozen assemblies that would otherwise have to load
/// into a long-lived, shared MSBuild node beside other tasks' copies; in a child process they load from the worker's
/// folder (build/ModelBuild.nuspec says why they ship there), a hung store can be killed with its process, and the
/// task stays BCL-only.
/// Secrets reach the child through its environment, never its command line (which the log shows), and every line
/// that comes back is scrubbed of them before it is logged.
/// </summary>
internal sealed class RemoteCacheConfiguration
{
    public const string Off = "Off";
    public const string Read = "Read";
    public const string ReadWrite = "ReadWrite";

    /// <summary>Codes after which the store is not asked again in this build (one warning per build).</summary>
    private static readonly HashSet<string> StoreFailureCodes = ["MB0620", "MB0621", "MB0622", "MB0623", "MB0624", "MB0628", "MB0629", "MB0630"];

    private readonly string[] secrets;

    public string? Location { get; }
    /// <summary>Off, Read or ReadWrite; Off when no location is set.</summary>
    public string Mode { get; private set; }
    /// <summary>False once the store failed in this build: later items do not ask it again.</summary>
    public bool Available => Mode != Off;

    public RemoteCacheConfiguration(string? location, string? mode, string? connectionString, string? signingKey, string? ci, Action<string, string> warn)
    {
        Location = string.IsNullOrWhiteSpace(location) ? null : location.Trim();
        ConnectionString = string.IsNullOrWhiteSpace(connectionString) ? null : connectionString;
        SigningKey = string.IsNullOrEmpty(signingKey) ? null : signingKey;
        secrets = SecretsOf(Location, ConnectionString, SigningKey);
        Mode = Location is null ? Off : ParseMode(mode, ci, warn);
    }

    public string? ConnectionString { get; }
    public string? SigningKey { get; }

    /// <summary>The location as the log may show it (no query string, so no SAS).</summary>
    public string Display => Location is null ? "" : Location.Split('?')[0];

    private static string ParseMode(string? text, string? ci, Action<string, string> warn)
    {
        if (string.IsNullOrWhiteSpace(text))
            return !string.IsNullOrWhiteSpace(ci) && !string.Equals(ci.Trim(), "false", StringComparison.OrdinalIgnoreCase) ? ReadWrite : Read;
        switch (text.Trim().ToLowerInvariant())
        {
            case "off" or "none": return Off;
            case "read": return Read;
            case "readwrite" or "read-write": return ReadWrite;
            default:
                warn("MB0628", $"ModelBuildRemoteCacheMode '{text}' is not ReadWrite, Read or Off; the remote cache is not used. Fix: set ModelBuildRemoteCacheMode to ReadWrite, Read or Off.");
                return Off;
        }
    }

    /// <summary>After a child reported <paramref name="code"/>: a store failure turns the remote cache off for this build.</summary>
    public void Observe(string? code)
    {
        if (code is not null && StoreFailureCodes.Contains(code)) Mode = Off;
    }

    public void Disable() => Mode = Off;

    /// <summary>The child's environment: the settings by name (the location too, as it may carry a SAS).</summary>
    public void AddTo(IDictionary<string, string?> environment)
    {
        environment["ModelBuildRemoteCache"] = Location;
        environment["ModelBuildRemoteCacheMode"] = Mode;
        if (ConnectionString is not null) environment["ModelBuildRemoteCacheConnectionString"] = ConnectionString;
        if (SigningKey is not null) environment["ModelBuildRemoteCacheSigningKey"] = SigningKey;
    }

    /// <summary>The text with every secret replaced by ***.</summary>
    public string Redact(string text)
    {
        foreach (var secret in secrets)
            if (text.Contains(secret, StringComparison.Ordinal)) text = text.Replace(secret, "***", StringComparison.Ordinal);
        return text;
    }

    private static string[] SecretsOf(string? location, string? connectionString, string? signingKey)
    {
        var list = new List<string>();
        if (location is not null && location.IndexOf('?') is var q and >= 0 && q + 1 < location.Length)
        {
            list.Add(location[(q + 1)..]);
            // Each SAS parameter's value on its own too (sig above all), in case a message quotes them separately.
            foreach (Match m in Regex.Matches(location[(q + 1)..], "(?:^|&)sig=([^&]+)")) list.Add(m.Groups[1].Value);
        }
        if (connectionString is not null)
        {
            list.Add(connectionString);
            foreach (Match m in Regex.Matches(connectionString, "(?:AccountKey|SharedAccessSignature)=([^;]+)", RegexOptions.IgnoreCase)) list.Add(m.Groups[1].Value);
        }
        if (signingKey is not null) list.Add(signingKey);
        foreach (var value in list.ToArray())
        {
            list.Add(Uri.EscapeDataString(value));
            list.Add(Uri.UnescapeDataString(value));
        }
        // Longest first, so a secret inside another is not half-replaced; very short values would mangle ordinary text.
        return list.Where(s => s.Length >= 4).Distinct(StringComparer.Ordinal).OrderByDescending(s => s.Length).ToArray();
    }
}
