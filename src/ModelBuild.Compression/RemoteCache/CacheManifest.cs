using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelBuild.Compression.RemoteCache;

/// <summary>
/// What a cache entry holds: each file's name, size and SHA-256, and optionally an HMAC-SHA256 signature over that
/// list. The same manifest guards a local entry (<c>manifest.json</c> in its folder: bytes altered on disk are
/// detected, issue 13) and a remote one (the entry's only mutable-looking object, written last, so an entry without
/// it is invisible). BCL and CacheRetention only: shared as source with ModelBuild.Tasks, which checks local entries itself.
/// </summary>
public sealed class CacheManifest
{
    public const string FileName = "manifest.json";
    public const string CurrentScheme = "modelbuild-cache-manifest-v1";

    public string Scheme { get; set; } = CurrentScheme;
    /// <summary>"entry" (a CompressModel result: model + reports) or "stage" (one stage's output).</summary>
    public string Kind { get; set; } = "";
    public string Key { get; set; } = "";
    public List<CacheManifestFile> Files { get; set; } = [];
    /// <summary>"hmac-sha256:&lt;hex&gt;" over <see cref="SignedText"/>; null when the writer had no signing key.</summary>
    public string? Signature { get; set; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The manifest of every file directly in <paramref name="directory"/> except the manifest itself, by name.</summary>
    public static CacheManifest ForDirectory(string kind, string key, string directory)
    {
        var manifest = new CacheManifest { Kind = kind, Key = key };
        // Not the manifest itself, nor the file a hit by another user creates and deletes at once (CacheRetention.MarkUsed).
        foreach (var path in Directory.GetFiles(directory).Where(f => Path.GetFileName(f) != FileName && !ModelBuild.Onnx.CacheRetention.IsTouchFile(Path.GetFileName(f)))
                     .OrderBy(f => Path.GetFileName(f), StringComparer.Ordinal))
        {
            manifest.Files.Add(new CacheManifestFile { Name = Path.GetFileName(path), Bytes = new FileInfo(path).Length, Sha256 = HashFile(path) });
        }
        return manifest;
    }

    /// <summary>The canonical text the signature covers: scheme, kind, key and every file, one per line.</summary>
    public string SignedText()
    {
        var text = new StringBuilder().Append(Scheme).Append('\n').Append(Kind).Append('\n').Append(Key).Append('\n');
        foreach (var file in Files) text.Append(file.Name).Append(' ').Append(file.Bytes).Append(' ').Append(file.Sha256).Append('\n');
        return text.ToString();
    }

    public void Sign(string signingKey) => Signature = "hmac-sha256:" + Hmac(signingKey);

    /// <summary>True when the entry carries a signature made with <paramref name="signingKey"/> (compared in constant time).</summary>
    public bool HasValidSignature(string signingKey)
    {
        const string prefix = "hmac-sha256:";
        if (Signature is null || !Signature.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var expected = Encoding.ASCII.GetBytes(Hmac(signingKey));
        var actual = Encoding.ASCII.GetBytes(Signature[prefix.Length..]);
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    private string Hmac(string signingKey) =>
        Convert.ToHexString(HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), Encoding.UTF8.GetBytes(SignedText()))).ToLowerInvariant();

    /// <summary>
    /// Checks the files in <paramref name="directory"/> against the manifest: every listed file present with its size
    /// and hash, and no file missing. Returns null when they match, else what is wrong (for a warning).
    /// </summary>
    public string? Verify(string directory)
    {
        if (Files.Count == 0) return "the manifest lists no file";
        foreach (var file in Files)
        {
            var path = Path.Combine(directory, file.Name);
            if (!IsPlainFileName(file.Name)) return $"the manifest names '{file.Name}', which is not a plain file name";
            if (!File.Exists(path)) return $"{file.Name} is missing";
            var length = new FileInfo(path).Length;
            if (length != file.Bytes) return $"{file.Name} has {length:N0} bytes, the manifest says {file.Bytes:N0}";
            if (!string.Equals(HashFile(path), file.Sha256, StringComparison.OrdinalIgnoreCase)) return $"{file.Name} does not match its SHA-256 in the manifest";
        }
        return null;
    }

    /// <summary>A file name that cannot climb out of the entry folder (a manifest from a store is not trusted input).</summary>
    public static bool IsPlainFileName(string name) =>
        name.Length > 0 && name == Path.GetFileName(name) && name is not "." and not ".." && name.IndexOfAny(['/', '\\', ':']) < 0;

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Parses a manifest; null when it is not one (malformed JSON, another scheme, no key).</summary>
    public static CacheManifest? TryParse(string json)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<CacheManifest>(json, Json);
            return manifest is { Scheme: CurrentScheme, Key.Length: > 0 } && manifest.Files.All(f => f is { Name.Length: > 0, Sha256.Length: 64 }) ? manifest : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The manifest in <paramref name="directory"/>, or null when it is missing or unreadable.</summary>
    public static CacheManifest? TryRead(string directory)
    {
        var path = Path.Combine(directory, FileName);
        try
        {
            return File.Exists(path) ? TryParse(File.ReadAllText(path)) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }
}

public sealed class CacheManifestFile
{
    public string Name { get; set; } = "";
    public long Bytes { get; set; }
    public string Sha256 { get; set; } = "";
}
