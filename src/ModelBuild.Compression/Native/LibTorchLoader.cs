using System.Runtime.InteropServices;
using System.Security.Cryptography;
using ModelBuild.Onnx.Diagnostics;
using TorchSharp;

namespace ModelBuild.Compression.Native;

/// <summary>
/// Makes TorchSharp-cpu 0.107.0 load on Debian 12 without any manual step. Call <see cref="EnsureLoaded"/> before the
/// first TorchSharp call.
/// <para>
/// Why: the package's <c>libLibTorchSharp.so</c> declares that it needs <c>GLIBCXX_3.4.32</c> (GCC 13's libstdc++),
/// Debian 12 ships GCC 12's (up to 3.4.30), and glibc refuses the whole library. The only symbol of that version it
/// names, <c>std::ios_base_library_init()</c>, is never relocated (it is a link-time marker), so the requirement is
/// not a real one. We copy the library to a per-user cache (the NuGet cache is shared and often read-only), mark
/// the missing versions weak in the copy (glibc then only warns), and load the copy after libtorch itself has been
/// loaded from its package, so exactly one libtorch_cpu is in the process (a second copy aborts libtorch).
/// TorchSharp's own probe for "LibTorchSharp" then finds the already loaded copy by its soname.
/// Where the system libstdc++ is new enough, the original library loads and nothing is copied.
/// </para>
/// </summary>
public static partial class LibTorchLoader
{
    private const string LibTorchSharpFile = "libLibTorchSharp.so";
    private const string StdCxx = "libstdc++.so.6";
    private static readonly object Gate = new();
    private static bool loaded;

    /// <summary>
    /// libtorch's OpenMP workers spin while idle by default. A build shares the machine with other build nodes, and
    /// on the 2-core build VM under load spinning made a two-thread epoch of the intent student 12.3 s against 0.86 s
    /// with passive waiting (benchmarks/RESULTS.md, "Distillation"). OpenMP reads the variable once, when libtorch is
    /// loaded, from the native environment: .NET's Environment.SetEnvironmentVariable only changes the managed copy on
    /// Unix, so it goes through libc's setenv, and a value the user set is kept (overwrite = 0).
    /// </summary>
    internal static void UsePassiveOpenMpWaitUnlessSet() => SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr GetNativeEnv(string name);

    /// <summary>What happened on load: "original" or the path of the patched copy. For tests and diagnostics.</summary>
    public static string? LoadedFrom { get; private set; }

    public static void EnsureLoaded()
    {
        lock (Gate)
        {
            if (loaded) return;
            if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
            {
                try
                {
                    LoadOnLinux();
                }
                catch (InvalidDataException e)
                {
                    // The ELF reader met a file that is not a library: a damaged or truncated copy in the package folder.
                    throw new ModelBuildException("MB0801",
                        $"TorchSharp's native library {LibTorchSharpFile} is damaged: {e.Message}",
                        "Delete the TorchSharp-cpu 0.107.0 folder from the NuGet packages folder and restore again (dotnet restore).",
                        LibTorchSharpFile, e);
                }
            }
            // Lets TorchSharp run its own loader now, so a failure surfaces here rather than at a random first call.
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or EntryPointNotFoundException)
            {
                throw new ModelBuildException("MB0801",
                    $"TorchSharp's native libraries could not be loaded: {FirstLine(e.Message)}",
                    "Restore the solution (dotnet restore) so that TorchSharp-cpu 0.107.0 and libtorch-cpu-linux-x64 2.10.0 are in the NuGet packages folder.",
                    LibTorchSharpFile, e);
            }
            DisableOneDnnUnlessAsked();
            loaded = true;
        }
    }

    /// <summary>
    /// Turns off libtorch's oneDNN (mkldnn) kernels, so convolutions and pooling run on libtorch's own CPU code
    /// (im2col + GEMM). Why: on the AMD EPYC build machines (AVX-512) libtorch 2.10's oneDNN fp32 convolution returns
    /// wrong values: a 24-to-24-channel 5x5 convolution of the CIFAR-10 CNN was off by 0.095 against the same
    /// convolution in float64 (ONNX Runtime: 4e-7), and CNN training went to NaN. Capping oneDNN's ISA at AVX2 only
    /// moved the error to another layer. Setting MODELBUILD_TORCH_ONEDNN=1 keeps oneDNN on. libtorch has no C API for
    /// the switch, so this calls <c>at::globalContext().setUserEnabledMkldnn(false)</c> by its Itanium-mangled name
    /// (Linux and macOS builds); where those names are not exported (MSVC builds) nothing changes.
    /// </summary>
    private static unsafe void DisableOneDnnUnlessAsked()
    {
        // The names below are Itanium-mangled (GCC/Clang builds) and GetNativeEnv is libc's: neither exists on Windows.
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        var asked = GetNativeEnv("MODELBUILD_TORCH_ONEDNN");
        if (asked != IntPtr.Zero && Marshal.PtrToStringUTF8(asked) == "1") return;
        if (!NativeLibrary.TryLoad("torch_cpu", typeof(torch).Assembly, null, out var torchCpu)) return;
        if (!NativeLibrary.TryGetExport(torchCpu, "_ZN2at13globalContextEv", out var globalContext)
            || !NativeLibrary.TryGetExport(torchCpu, "_ZN2at7Context20setUserEnabledMkldnnEb", out var setEnabled)
            || !NativeLibrary.TryGetExport(torchCpu, "_ZNK2at7Context17userEnabledMkldnnEv", out var getEnabled))
            return;
        var context = ((delegate* unmanaged<IntPtr>)globalContext)();
        ((delegate* unmanaged<IntPtr, byte, void>)setEnabled)(context, 0);
        OneDnnEnabled = ((delegate* unmanaged<IntPtr, byte>)getEnabled)(context) != 0;
        // Without oneDNN, libtorch tries NNPACK next for convolutions; on these CPUs it cannot start and prints
        // "Could not initialize NNPACK! Reason: Unsupported hardware." on every convolution. Its own GEMM path is used either way.
        if (NativeLibrary.TryGetExport(torchCpu, "_ZN2at7Context20setUserEnabledNNPACKEb", out var setNnpack))
            ((delegate* unmanaged<IntPtr, byte, void>)setNnpack)(context, 0);
    }

    /// <summary>Whether libtorch's oneDNN kernels are on after loading (see <see cref="DisableOneDnnUnlessAsked"/>).</summary>
    public static bool OneDnnEnabled { get; private set; } = true;

    private static void LoadOnLinux()
    {
        UsePassiveOpenMpWaitUnlessSet();
        var torchAssembly = typeof(torch).Assembly;
        // Load libtorch the way TorchSharp itself will (same probing, same file), so only one copy is ever mapped.
        if (!NativeLibrary.TryLoad("torch_cpu", torchAssembly, null, out _)) return; // TorchSharp will report it.
        if (NativeLibrary.TryLoad("LibTorchSharp", torchAssembly, null, out _))
        {
            LoadedFrom = "original";
            return;
        }

        var torchCpu = LoadedLibraryPath("libtorch_cpu.so")
            ?? throw new ModelBuildException("MB0801", "libtorch_cpu.so was loaded but its path could not be read from /proc/self/maps.",
                "Run on a Linux system with /proc mounted.", "libtorch_cpu.so");
        var original = FindOriginal(SearchDirectories(torchAssembly));
        var stdcxx = LoadedLibraryPath(StdCxx)
            ?? throw new ModelBuildException("MB0801", $"{StdCxx} is not loaded after libtorch_cpu.so.", "Install the system C++ runtime (libstdc++6).", StdCxx);

        var bytes = File.ReadAllBytes(original);
        var missing = VersionsToMarkWeak(bytes, original, ElfVersionDefinitions.Read(File.ReadAllBytes(stdcxx)), stdcxx);
        if (missing.Count == 0)
        {
            // Not a version problem: let TorchSharp's loader report the real cause.
            return;
        }
        ElfWeakVersionPatcher.MarkWeak(bytes, StdCxx, missing);

        // libLibTorchSharp.so's DT_NEEDED entries (libtorch.so, libc10.so, libtorch_cpu.so) must resolve to the
        // copies already loaded from the package: load libtorch.so from libtorch_cpu.so's folder by full path.
        NativeLibrary.Load(Path.Combine(Path.GetDirectoryName(torchCpu)!, "libtorch.so"));
        var patched = WritePatchedCopy(bytes, CacheRoots());
        NativeLibrary.Load(patched);
        LoadedFrom = patched;
    }

    /// <summary>
    /// The libstdc++ versions <paramref name="libTorchSharp"/> requires that <paramref name="provided"/> lacks, all of
    /// which must be link-time markers only (never relocated): those can be marked weak. A version whose symbols are
    /// really used cannot be patched away: MB0802.
    /// </summary>
    internal static IReadOnlyList<string> VersionsToMarkWeak(byte[] libTorchSharp, string libTorchSharpPath, IReadOnlySet<string> provided, string stdcxxPath)
    {
        var missing = ElfWeakVersionPatcher.RequiredVersions(libTorchSharp, StdCxx).Where(v => !provided.Contains(v)).ToList();
        foreach (var version in missing)
        {
            if (ElfWeakVersionPatcher.RelocatesSymbolOfVersion(libTorchSharp, version))
            {
                throw new ModelBuildException("MB0802",
                    $"{libTorchSharpPath} uses symbols of {version}, which the system {stdcxxPath} does not provide.",
                    $"Install a libstdc++ that provides {version} (GCC 13 or newer runtime).", libTorchSharpPath);
            }
        }
        return missing;
    }

    /// <summary>The first <c>libLibTorchSharp.so</c> in <paramref name="directories"/>; MB0801 when there is none.</summary>
    internal static string FindOriginal(IEnumerable<string> directories) =>
        directories.Select(d => Path.Combine(d, LibTorchSharpFile)).FirstOrDefault(File.Exists) is { } found
            ? Path.GetFullPath(found)
            : throw new ModelBuildException("MB0801", $"{LibTorchSharpFile} was not found next to the app or in the NuGet packages folder.",
                "Restore the solution (dotnet restore) so that the TorchSharp 0.107.0 package is present.", LibTorchSharpFile);

    internal static List<string> SearchDirectories(System.Reflection.Assembly torchAssembly)
    {
        var directories = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirectories)
        {
            directories.AddRange(searchDirectories.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }
        var assemblyDirectory = Path.GetDirectoryName(torchAssembly.Location);
        if (!string.IsNullOrEmpty(assemblyDirectory))
        {
            directories.Add(assemblyDirectory);
            directories.Add(Path.Combine(assemblyDirectory, "runtimes", "linux-x64", "native"));
            // NuGet layout: torchsharp/<version>/lib/net8.0/TorchSharp.dll -> torchsharp/<version>/runtimes/linux-x64/native
            directories.Add(Path.Combine(assemblyDirectory, "..", "..", "runtimes", "linux-x64", "native"));
        }
        return directories;
    }

    private static string? LoadedLibraryPath(string fileName)
    {
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            var slash = line.IndexOf('/');
            if (slash < 0) continue;
            var path = line[slash..];
            // The mapped file may carry a longer version suffix than the soname (libstdc++.so.6 -> libstdc++.so.6.0.30).
            var name = Path.GetFileName(path);
            if (name == fileName || name.StartsWith(fileName + ".", StringComparison.Ordinal)) return path;
        }
        return null;
    }

    /// <summary>Writes the patched library to a per-user cache keyed by its content; temp file + rename, so concurrent processes are safe.</summary>
    internal static string WritePatchedCopy(byte[] patched, IEnumerable<string> cacheRoots)
    {
        var key = Convert.ToHexString(SHA256.HashData(patched))[..16].ToLowerInvariant();
        foreach (var root in cacheRoots)
        {
            try
            {
                var directory = Path.Combine(root, "modelbuild", "native", key);
                var target = Path.Combine(directory, LibTorchSharpFile);
                if (File.Exists(target) && new FileInfo(target).Length == patched.Length) return target;
                ModelBuild.Onnx.AtomicFile.WriteAllBytes(target, patched);
                return target;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Try the next location.
            }
        }
        throw new ModelBuildException("MB0803", "No writable cache folder for the patched TorchSharp native library.",
            "Set XDG_CACHE_HOME to a writable folder.", LibTorchSharpFile);
    }

    private static IEnumerable<string> CacheRoots()
    {
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg) yield return xdg;
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (!string.IsNullOrEmpty(home)) yield return Path.Combine(home, ".cache");
        yield return Path.Combine(Path.GetTempPath(), $"modelbuild-{Environment.UserName}");
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
