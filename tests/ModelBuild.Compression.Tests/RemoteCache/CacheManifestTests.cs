using ModelBuild.Compression.RemoteCache;

namespace ModelBuild.Compression.Tests.RemoteCache;

/// <summary>The manifest that guards local and remote cache entries: SHA-256 per file, optional HMAC signature.</summary>
public sealed class CacheManifestTests : IDisposable
{
    private readonly string entry = Directory.CreateTempSubdirectory("mb-manifest-").FullName;

    public CacheManifestTests()
    {
        File.WriteAllBytes(Path.Combine(entry, "model.onnx"), Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray());
        File.WriteAllText(Path.Combine(entry, "report.json"), "{\"cacheKey\":\"k\"}");
    }

    public void Dispose() => Directory.Delete(entry, recursive: true);

    private CacheManifest Manifest() => CacheManifest.ForDirectory("entry", new string('a', 64), entry);

    [Fact]
    public void Lists_every_file_with_its_size_and_hash_and_verifies_the_untouched_folder()
    {
        var manifest = Manifest();
        Assert.Equal(["model.onnx", "report.json"], manifest.Files.Select(f => f.Name));
        Assert.Equal(1000, manifest.Files[0].Bytes);
        Assert.Null(manifest.Verify(entry));
        var parsed = CacheManifest.TryParse(manifest.ToJson())!;
        Assert.Equal(manifest.SignedText(), parsed.SignedText());
    }

    [Fact]
    public void One_altered_byte_a_truncated_file_and_a_missing_file_are_each_detected()
    {
        var manifest = Manifest();
        var model = Path.Combine(entry, "model.onnx");
        var bytes = File.ReadAllBytes(model);
        bytes[500] ^= 1;
        File.WriteAllBytes(model, bytes);
        Assert.Equal("model.onnx does not match its SHA-256 in the manifest", manifest.Verify(entry));

        File.WriteAllBytes(model, bytes[..999]);
        Assert.Contains("model.onnx has 999 bytes", manifest.Verify(entry));

        File.Delete(model);
        Assert.Equal("model.onnx is missing", manifest.Verify(entry));
    }

    [Fact]
    public void A_signature_holds_only_for_the_same_key_and_the_same_content()
    {
        var manifest = Manifest();
        Assert.False(manifest.HasValidSignature("ci-key"));
        manifest.Sign("ci-key");
        Assert.True(manifest.HasValidSignature("ci-key"));
        Assert.False(manifest.HasValidSignature("another-key"));
        var parsed = CacheManifest.TryParse(manifest.ToJson())!;
        Assert.True(parsed.HasValidSignature("ci-key"));
        // Pointing the signed manifest at other bytes breaks the signature.
        parsed.Files[0].Sha256 = new string('0', 64);
        Assert.False(parsed.HasValidSignature("ci-key"));
    }

    [Fact]
    public void A_manifest_that_names_a_path_outside_the_entry_is_refused()
    {
        Assert.False(CacheManifest.IsPlainFileName("../../etc/passwd"));
        Assert.False(CacheManifest.IsPlainFileName("sub/model.onnx"));
        Assert.False(CacheManifest.IsPlainFileName(".."));
        Assert.True(CacheManifest.IsPlainFileName("model.onnx"));
        Assert.Null(CacheManifest.TryParse("{ not json"));
        Assert.Null(CacheManifest.TryParse("{\"scheme\":\"other\",\"key\":\"k\",\"files\":[]}"));
    }
}
