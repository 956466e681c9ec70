using System.Security.Cryptography;
using System.Text;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Tasks.Cache;

/// <summary>
/// The content hash that decides whether a compressed model can be reused: SHA-256 over the teacher's bytes, every
/// data file's bytes, the normalized recipe (its paths replaced by those content hashes, so moving or re-cloning a
/// project does not change the key) and the versions of ModelBuild, ONNX Runtime and TorchSharp.
/// Reading every input costs one pass over the files; <see cref="Fingerprint"/> is the cheap check (paths, sizes,
/// timestamps) that lets an untouched item skip even that.
/// </summary>
internal static class CacheKey
{
    /// <summary>Bumped when the cache layout or what the key covers changes.</summary>
    private const string Scheme = "modelbuild-cache-v1";

    public static string Compute(CompressionRecipe recipe, ToolVersions versions, IDictionary<string, string>? fileHashes = null)
    {
        fileHashes ??= new Dictionary<string, string>(StringComparer.Ordinal);
        string? Hash(string? path)
        {
            if (path is null) return null;
            if (!fileHashes.TryGetValue(path, out var hash))
            {
                // A file's bytes, or for a data folder (images, TensorProto files) every file under it.
                hash = DataInputHash.Compute(path);
                fileHashes[path] = hash;
            }
            return hash;
        }

        // A copy of the recipe in which each path is the file's content hash. Output is where the worker writes,
        // not what it writes, so it is left out.
        var normalized = CompressionRecipe.FromJson(recipe.ToJson());
        normalized.Output = "";
        normalized.Teacher = Hash(recipe.Teacher)!;
        normalized.CalibrationData = Hash(recipe.CalibrationData);
        normalized.Student = Hash(recipe.Student);
        normalized.TrainingData = Hash(recipe.TrainingData);
        normalized.TrainingLabels = Hash(recipe.TrainingLabels);
        normalized.EvaluationData = Hash(recipe.EvaluationData);
        normalized.EvaluationLabels = Hash(recipe.EvaluationLabels);
        // A vocab.txt's lower-casing comes from the tokenizer_config.json beside it, so that file is part of the tokenizer.
        normalized.Tokenizer = recipe.Tokenizer is null ? null : Hash(recipe.Tokenizer) + (TokenizerConfig(recipe.Tokenizer) is { } config ? "+" + Hash(config) : "");
        normalized.Labels = Hash(recipe.Labels);
        // Session tuning writes a file beside the model and never changes the model's bytes.
        normalized.TuneSession = null;

        var text = new StringBuilder()
            .Append(Scheme).Append('\n')
            .Append("modelbuild=").Append(versions.ModelBuild).Append('\n')
            .Append("onnxruntime=").Append(versions.OnnxRuntime).Append('\n')
            .Append("torchsharp=").Append(versions.TorchSharp).Append('\n')
            .Append(normalized.ToJson())
            .ToString();
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant();
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
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()))).ToLowerInvariant();
    }

    /// <summary>Every file or data folder the result depends on (teacher first), without duplicates.</summary>
    public static IReadOnlyList<string> InputFiles(CompressionRecipe recipe) =>
        new[] { recipe.Teacher, recipe.CalibrationData, recipe.Student, recipe.TrainingData, recipe.TrainingLabels, recipe.EvaluationData, recipe.EvaluationLabels,
                recipe.Tokenizer, TokenizerConfig(recipe.Tokenizer), recipe.Labels }
            .Where(p => p is not null).Select(p => p!).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The tokenizer_config.json the worker reads beside a vocab.txt (as TextDataFiles in the engine), if any.</summary>
    private static string? TokenizerConfig(string? tokenizer)
    {
        if (tokenizer is null || tokenizer.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return null;
        var config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizer))!, "tokenizer_config.json");
        return File.Exists(config) ? config : null;
    }
}

/// <summary>The tool versions that go into the key: ModelBuild's own, and the engines the worker runs on.</summary>
internal sealed record ToolVersions(string ModelBuild, string OnnxRuntime, string TorchSharp)
{
    public override string ToString() => $"modelbuild={ModelBuild};onnxruntime={OnnxRuntime};torchsharp={TorchSharp}";
}
