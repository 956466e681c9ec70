using ModelBuild.Compression.Native;
using ModelBuild.Onnx.Diagnostics;
using TorchSharp;

namespace ModelBuild.Compression.Tests.Native;

/// <summary>
/// The loader's decisions on test inputs: the real libLibTorchSharp.so against the system libstdc++'s version set,
/// with a version taken away to play a libstdc++ that really lacks symbols (MB0802); cache folders that cannot be
/// written (MB0803); no library in the search folders (MB0801).
/// </summary>
public sealed class LibTorchLoaderDecisionTests
{
    private const string StdCxx = "libstdc++.so.6";

    private static string LibTorchSharp() => LibTorchLoader.FindOriginal(LibTorchLoader.SearchDirectories(typeof(torch).Assembly));

    private static string SystemStdCxx() =>
        new[] { "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib" }
            .Select(d => Path.Combine(d, StdCxx)).First(File.Exists);

    // Read off the pinned TorchSharp 0.107.0 libLibTorchSharp.so with binutils, not with the code under test:
    //   readelf -V -W libLibTorchSharp.so   (the libstdc++.so.6 "Version needs" entries)
    //   readelf -r -W libLibTorchSharp.so | grep -o '@\(GLIBCXX\|CXXABI\)_[0-9.]*' | sort -u   (versions relocations bind)
    // A TorchSharp upgrade changes these: re-run the two commands and update the lists.
    private static readonly string[] RequiredByReadelf =
    [
        "CXXABI_1.3", "CXXABI_1.3.1", "CXXABI_1.3.3", "CXXABI_1.3.5", "CXXABI_1.3.9", "CXXABI_1.3.13",
        "GLIBCXX_3.4", "GLIBCXX_3.4.9", "GLIBCXX_3.4.11", "GLIBCXX_3.4.14", "GLIBCXX_3.4.15", "GLIBCXX_3.4.18", "GLIBCXX_3.4.19",
        "GLIBCXX_3.4.20", "GLIBCXX_3.4.21", "GLIBCXX_3.4.22", "GLIBCXX_3.4.26", "GLIBCXX_3.4.29", "GLIBCXX_3.4.30", "GLIBCXX_3.4.32",
    ];
    private const string NeverRelocatedByReadelf = "GLIBCXX_3.4.32";

    [Fact]
    public void Only_versions_that_are_never_relocated_are_marked_weak()
    {
        var bytes = File.ReadAllBytes(LibTorchSharp());
        Assert.Equal(RequiredByReadelf.Order(StringComparer.Ordinal), ElfWeakVersionPatcher.RequiredVersions(bytes, StdCxx).Order(StringComparer.Ordinal));
        foreach (var v in RequiredByReadelf)
            Assert.True((v != NeverRelocatedByReadelf) == ElfWeakVersionPatcher.RelocatesSymbolOfVersion(bytes, v), v);

        // A libstdc++ from before GCC 13 (no GLIBCXX_3.4.32): exactly that version is marked weak.
        var gcc12 = RequiredByReadelf.Where(v => v != NeverRelocatedByReadelf).ToHashSet();
        Assert.Equal([NeverRelocatedByReadelf], LibTorchLoader.VersionsToMarkWeak(bytes, "libLibTorchSharp.so", gcc12, "/gcc12/libstdc++.so.6"));
        // A libstdc++ with every version: nothing to mark.
        Assert.Empty(LibTorchLoader.VersionsToMarkWeak(bytes, "libLibTorchSharp.so", RequiredByReadelf.ToHashSet(), "/new/libstdc++.so.6"));
    }

    [Fact]
    public void A_required_version_whose_symbols_are_really_used_is_MB0802()
    {
        var bytes = File.ReadAllBytes(LibTorchSharp());
        var provided = ElfVersionDefinitions.Read(File.ReadAllBytes(SystemStdCxx()));
        // A libstdc++ without one version the library really binds symbols to (e.g. GLIBCXX_3.4.21's std::string).
        var used = ElfWeakVersionPatcher.RequiredVersions(bytes, StdCxx).First(v => ElfWeakVersionPatcher.RelocatesSymbolOfVersion(bytes, v));
        var older = new HashSet<string>(provided);
        older.Remove(used);
        var e = Assert.Throws<ModelBuildException>(() => LibTorchLoader.VersionsToMarkWeak(bytes, "libLibTorchSharp.so", older, "/old/libstdc++.so.6"));
        Assert.Equal("MB0802", e.Code);
        Assert.Contains(used, e.Cause);
        Assert.Contains("/old/libstdc++.so.6", e.Cause);
    }

    [Fact]
    public void No_writable_cache_folder_is_MB0803_and_the_next_writable_one_is_used()
    {
        var dir = Directory.CreateTempSubdirectory("mb-loader-test-").FullName;
        // A regular file where a folder is needed: creating the cache folder fails even for root.
        var blocker = Path.Combine(dir, "not-a-folder");
        File.WriteAllText(blocker, "");
        var payload = new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 1, 2, 3 };

        var e = Assert.Throws<ModelBuildException>(() => LibTorchLoader.WritePatchedCopy(payload, [blocker, Path.Combine(blocker, "sub")]));
        Assert.Equal("MB0803", e.Code);

        var writable = Path.Combine(dir, "cache");
        var written = LibTorchLoader.WritePatchedCopy(payload, [blocker, writable]);
        Assert.StartsWith(writable, written);
        Assert.Equal(payload, File.ReadAllBytes(written));
        Assert.Equal(written, LibTorchLoader.WritePatchedCopy(payload, [writable]));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(written)!, "*.tmp"));
    }

    [Fact]
    public void No_libtorchsharp_in_the_search_folders_is_MB0801()
    {
        var empty = Directory.CreateTempSubdirectory("mb-loader-test-").FullName;
        var e = Assert.Throws<ModelBuildException>(() => LibTorchLoader.FindOriginal([empty, Path.Combine(empty, "missing")]));
        Assert.Equal("MB0801", e.Code);

        var withLibrary = Directory.CreateTempSubdirectory("mb-loader-test-").FullName;
        File.WriteAllBytes(Path.Combine(withLibrary, "libLibTorchSharp.so"), [0]);
        Assert.Equal(Path.Combine(withLibrary, "libLibTorchSharp.so"), LibTorchLoader.FindOriginal([empty, withLibrary]));
    }
}
