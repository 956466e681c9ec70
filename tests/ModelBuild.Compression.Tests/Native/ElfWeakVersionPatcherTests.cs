using ModelBuild.Compression.Native;

namespace ModelBuild.Compression.Tests.Native;

public sealed class ElfWeakVersionPatcherTests
{
    private static byte[] ShippedLibTorchSharp()
    {
        // The build copies TorchSharp's native library beside the tests (runtimes/linux-x64/native).
        var path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"expected {path}");
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void Reads_the_libstdcxx_versions_the_shipped_library_requires()
    {
        var required = ElfWeakVersionPatcher.RequiredVersions(ShippedLibTorchSharp(), "libstdc++.so.6");
        Assert.Contains("GLIBCXX_3.4.32", required);
        Assert.Contains("CXXABI_1.3.5", required);
    }

    [Fact]
    public void Tells_a_marker_version_from_one_whose_symbols_are_relocated()
    {
        var elf = ShippedLibTorchSharp();
        Assert.False(ElfWeakVersionPatcher.RelocatesSymbolOfVersion(elf, "GLIBCXX_3.4.32"));
        // Ordinary C++ runtime symbols (operator new, string members...) are relocated through CXXABI_1.3 / GLIBCXX_3.4.
        Assert.True(ElfWeakVersionPatcher.RelocatesSymbolOfVersion(elf, "GLIBCXX_3.4"));
    }

    [Fact]
    public void Marks_only_the_named_requirement_weak()
    {
        var elf = ShippedLibTorchSharp();
        var before = (byte[])elf.Clone();
        Assert.Equal(1, ElfWeakVersionPatcher.MarkWeak(elf, "libstdc++.so.6", ["GLIBCXX_3.4.32"]));
        // Idempotent, and exactly one 16-bit flags field changed.
        Assert.Equal(0, ElfWeakVersionPatcher.MarkWeak(elf, "libstdc++.so.6", ["GLIBCXX_3.4.32"]));
        Assert.Equal(1, before.Zip(elf).Count(pair => pair.First != pair.Second));
    }

    [Fact]
    public void Reads_the_versions_the_system_libstdcxx_defines()
    {
        var system = new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6" }.First(File.Exists);
        var defined = ElfVersionDefinitions.Read(File.ReadAllBytes(system));
        // Every libstdc++ since GCC 5 defines these; the newest one decides whether patching is needed.
        Assert.Contains("GLIBCXX_3.4.21", defined);
        Assert.Contains("GLIBCXX_3.4", defined);
        Assert.Contains("CXXABI_1.3", defined);
    }
}
