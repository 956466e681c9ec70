using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace ModelBuild.Compression.Pipeline.Contract;

/// <summary>
/// The one key scheme that names a compressed result everywhere: the build task's item cache, the worker's report
/// (<c>cacheKey</c>), the remote cache and the per-stage cache. A key is SHA-256 over the input model's bytes, the
/// normalized settings, every data input by content (<see cref="DataInputHash"/>: files, folders, <c>file.npz:name</c>
/// members) and the tool versions (ModelBuild, ONNX Runtime, TorchSharp). Paths never enter a key, so moving or
/// re-cloning a project does not change it. BCL only: this file is compiled into ModelBuild.Tasks too, so the task
/// and the worker compute the same key from the same recipe.
/// </summary>
public static class ContentKey
{
    /// <summary>
    /// Bumped when the item cache layout or what its key covers changes, or when an unchanged recipe starts to mean
    /// something else (v2: `--train-batchnorm` unset became `auto`, and the distiller revives dead class scores; v3:
    /// `--augment` unset gives fresh token students 2 variants, `--learning-rate` unset gives fresh MLP students 0.01).
    /// A build from git also has the commit in ModelBuild's version; this covers one without.
    /// </summary>
    private const string ResultScheme = "modelbuild-cache-v3";

    /// <summary>Bumped like <see cref="ResultScheme"/> (v3 and v4: the same changes).</summary>
    private const string StageScheme = "modelbuild-stage-cache-v4";

    /// <summary>
    /// The key of a whole compression: the recipe with each path (the teacher and every file or data setting of
    /// <see cref="RecipeSchema"/>, so a new one needs no line here) replaced by its input's content hash (Output is
    /// where the worker writes, not what it writes, so it is left out). <paramref name="hashes"/> memoizes hashes by path.
    /// </summary>
    public static string OfResult(CompressionRecipe recipe, ToolVersions versions, IDictionary<string, string>? hashes = null)
    {
        hashes ??= new Dictionary<string, string>(StringComparer.Ordinal);
        string? Hash(string? path)
        {
            if (path is null) return null;
            if (!hashes.TryGetValue(path, out var hash))
            {
                // A file named by a setting no stage uses (e.g. --student without --distill: warning MB0515) may not
                // exist; the key says so instead of failing (the stage that reads a file reports it missing).
                hash = InputOrMissing(path);
                hashes[path] = hash;
            }
            return hash;
        }

        var normalized = CompressionRecipe.FromJson(recipe.ToJson());
        normalized.Output = "";
        normalized.TuneSession = null; // writes a file beside the model, never changes the model's bytes
        normalized.Teacher = Hash(recipe.Teacher)!;
        foreach (var (setting, path, beside) in FileInputs(recipe))
            setting.Set(normalized, Hash(path) + (beside is null ? "" : "+" + Hash(beside)));

        var text = new StringBuilder()
            .Append(ResultScheme).Append('\n')
            .Append("modelbuild=").Append(versions.ModelBuild).Append('\n')
            .Append("onnxruntime=").Append(versions.OnnxRuntime).Append('\n')
            .Append("torchsharp=").Append(versions.TorchSharp).Append('\n')
            .Append(normalized.ToJson())
            .ToString();
        return Sha256Hex(text);
    }

    /// <summary>
    /// The key of one stage's output: the stage's input model bytes (the previous stage's output, so stage keys chain),
    /// its own settings (serialized as recipe JSON, so only values that change the output belong in them), each data input
    /// it reads (null: not given) and the tool versions.
    /// </summary>
    public static string OfStage(string stageName, string inputModel, object settings, IEnumerable<string?> dataInputs, ToolVersions versions)
    {
        var text = new StringBuilder()
            .Append(StageScheme).Append('\n')
            .Append("stage=").Append(stageName).Append('\n')
            .Append("input=").Append(InputOrMissing(inputModel)).Append('\n')
            .Append("settings=").Append(JsonSerializer.Serialize(settings, CompressionRecipe.JsonOptions)).Append('\n');
        foreach (var input in dataInputs) text.Append("data=").Append(input is null ? "-" : InputOrMissing(input)).Append('\n');
        text.Append(versions).Append('\n');
        return Sha256Hex(text.ToString());
    }

    /// <summary>
    /// What the stamp compares before hashing anything: the recipe with its absolute paths, each input file's size and
    /// last-write time, and the versions. Equal fingerprints mean nothing that could change the key has been touched.
    /// </summary>
    public static string Fingerprint(CompressionRecipe recipe, ToolVersions versions)
    {
        var text = new StringBuilder(recipe.ToJson()).Append('\n').Append(versions).Append('\n');
        foreach (var path in InputFiles(recipe).SelectMany(DataInputHash.Files))
        {
            var info = new FileInfo(path);
            text.Append(path).Append('|').Append(info.Length).Append('|').Append(info.LastWriteTimeUtc.Ticks).Append('\n');
        }
        return Sha256Hex(text.ToString());
    }

    /// <summary>Every file or data folder the result depends on (teacher first), without duplicates.</summary>
    public static IReadOnlyList<string> InputFiles(CompressionRecipe recipe) =>
        FileInputs(recipe).SelectMany(f => new[] { f.Path, f.Beside }).Prepend(recipe.Teacher)
            .Where(p => p is not null).Select(p => p!).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The recipe's file and data settings that are set (<see cref="RecipeSchema.Files"/>, table order), each with its file beside.</summary>
    private static IEnumerable<(RecipeSetting Setting, string Path, string? Beside)> FileInputs(CompressionRecipe recipe)
    {
        foreach (var setting in RecipeSchema.Files)
        {
            if (setting.Get(recipe) is string path) yield return (setting, path, setting.Beside?.Invoke(path));
        }
    }

    /// <summary>The tokenizer_config.json read beside a vocab.txt (it decides lower-casing), if any.</summary>
    public static string? TokenizerConfig(string? tokenizer)
    {
        if (tokenizer is null || tokenizer.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return null;
        var config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizer))!, "tokenizer_config.json");
        return File.Exists(config) ? config : null;
    }

    /// <summary>An input's content hash; one that does not exist hashes as its own "missing" text (the stage then reports it).</summary>
    private static string InputOrMissing(string path)
    {
        if (DataInputHash.IsGenerated(path) || File.Exists(path) || Directory.Exists(path)) return DataInputHash.Compute(path);
        return DataInputHash.NpzMember(path) is { } npz && File.Exists(npz.Archive) ? DataInputHash.Compute(path) : "missing:" + path;
    }

    private static string Sha256Hex(string text) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
}

/// <summary>
/// The tool versions that go into every key: ModelBuild's own (the package version, plus the commit when built from
/// git) and the ONNX Runtime and TorchSharp packages the worker resolves, as its <c>modelbuild.deps.json</c> pins them.
/// The task reads the worker's deps file; the worker reads its own, so both see the same versions.
/// </summary>
public sealed record ToolVersions(string ModelBuild, string OnnxRuntime, string TorchSharp)
{
    public override string ToString() => $"modelbuild={ModelBuild};onnxruntime={OnnxRuntime};torchsharp={TorchSharp}";

    /// <summary>The versions of the process this code runs in (the worker, or a test host), from its own deps file.</summary>
    public static ToolVersions OfThisProcess()
    {
        // The host's deps file is named after the entry assembly (modelbuild.deps.json for the worker).
        var depsFile = Assembly.GetEntryAssembly()?.GetName().Name is { } entry ? Path.Combine(AppContext.BaseDirectory, entry + ".deps.json") : null;
        return depsFile is not null && File.Exists(depsFile) ? FromDepsFile(depsFile) : new ToolVersions(OwnVersion(), "none", "none");
    }

    /// <summary>
    /// ModelBuild's version from this assembly, the engines' from the package entries of <paramref name="depsFile"/>.
    /// TorchSharp's carries "+onednn" when MODELBUILD_TORCH_ONEDNN=1 keeps libtorch's oneDNN kernels on (the worker
    /// inherits the build's environment): they compute convolutions differently, so trained bytes differ
    /// (<c>LibTorchLoader</c>). <paramref name="oneDnn"/> overrides the environment (tests).
    /// </summary>
    public static ToolVersions FromDepsFile(string depsFile, bool? oneDnn = null)
    {
        string onnxRuntime = "none", torchSharp = "none";
        using var document = JsonDocument.Parse(File.ReadAllBytes(depsFile));
        if (document.RootElement.TryGetProperty("libraries", out var libraries))
        {
            foreach (var library in libraries.EnumerateObject())
            {
                var slash = library.Name.IndexOf('/');
                if (slash < 0) continue;
                var id = library.Name[..slash];
                var version = library.Name[(slash + 1)..];
                if (id.Equals("Microsoft.ML.OnnxRuntime", StringComparison.OrdinalIgnoreCase)) onnxRuntime = version;
                else if (id.Equals("TorchSharp", StringComparison.OrdinalIgnoreCase)) torchSharp = version;
            }
        }
        if (oneDnn ?? Environment.GetEnvironmentVariable("MODELBUILD_TORCH_ONEDNN") == "1") torchSharp += "+onednn";
        return new ToolVersions(OwnVersion(), onnxRuntime, torchSharp);
    }

    private static string OwnVersion() =>
        typeof(ToolVersions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(ToolVersions).Assembly.GetName().Version?.ToString() ?? "unknown";
}
