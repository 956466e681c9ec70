namespace ModelBuild.Compression.RemoteCache;

/// <summary>
/// Where things are in the store, under the configured prefix. Every object is immutable and content-addressed:
/// <code>
/// modelbuild-cache-v1/blobs/&lt;sha256&gt;          a file's bytes, named by their SHA-256
/// modelbuild-cache-v1/entries/&lt;key&gt;.json      a CompressModel result's manifest (model + reports), by cache key
/// modelbuild-cache-v1/stages/&lt;key&gt;.json       one stage's output's manifest (distill, prune, quantize), by stage key
/// </code>
/// A writer uploads the blobs, then creates the manifest only if it does not exist: an entry is visible exactly when
/// its manifest is, and then every blob it names is already there. Re-uploading a blob is harmless (its name fixes its
/// bytes), which also repairs a damaged one.
/// </summary>
public static class RemoteCacheLayout
{
    public const string Root = "modelbuild-cache-v1/";
    public const string EntryKind = "entry";
    public const string StageKind = "stage";

    public static string Blob(string sha256) => $"{Root}blobs/{sha256}";

    public static string Manifest(string kind, string key) => kind switch
    {
        EntryKind => $"{Root}entries/{key}.json",
        StageKind => $"{Root}stages/{key}.json",
        _ => throw new ArgumentException($"Unknown entry kind '{kind}'.", nameof(kind)),
    };

    public static string ManifestFolder(string kind) => kind == EntryKind ? $"{Root}entries/" : $"{Root}stages/";

    /// <summary>The kind and key of a manifest's name, or null for any other object.</summary>
    public static (string Kind, string Key)? ParseManifestName(string name)
    {
        foreach (var kind in new[] { EntryKind, StageKind })
        {
            var folder = ManifestFolder(kind);
            if (name.StartsWith(folder, StringComparison.Ordinal) && name.EndsWith(".json", StringComparison.Ordinal))
                return (kind, name[folder.Length..^".json".Length]);
        }
        return null;
    }

    /// <summary>The hash of a blob's name, or null for any other object.</summary>
    public static string? ParseBlobName(string name) => name.StartsWith(Root + "blobs/", StringComparison.Ordinal) ? name[(Root.Length + "blobs/".Length)..] : null;
}
