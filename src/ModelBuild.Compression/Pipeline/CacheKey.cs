using System.Security.Cryptography;
using System.Text;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Pipeline;

/// <summary>
/// SHA-256 over everything that decides the output: the teacher's and data files' bytes, the normalized recipe
/// (paths replaced by content), the engine and ONNX Runtime versions.
/// </summary>
public static class CacheKey
{
    public static string Compute(CompressionRecipe recipe)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void File(string? path)
        {
            if (path is not null && Contract.DataInputHash.IsGenerated(path)) { sha.AppendData(Encoding.UTF8.GetBytes(path.ToLowerInvariant())); return; }
            if (path is null || !System.IO.File.Exists(path)) { sha.AppendData([0]); return; }
            sha.AppendData(SHA256.HashData(System.IO.File.ReadAllBytes(path)));
        }
        File(recipe.Teacher); File(recipe.Student); File(recipe.CalibrationData); File(recipe.TrainingData);
        File(recipe.TrainingLabels); File(recipe.EvaluationData); File(recipe.EvaluationLabels);
        // The tokenizer (with the tokenizer_config.json beside a vocab.txt) and the class names decide the text data's ids and labels.
        foreach (var text in Data.Text.TextDataFiles.Of(recipe)) File(text);
        var normalized = CompressionRecipe.FromJson(recipe.ToJson());
        normalized.Teacher = normalized.Output = "";
        normalized.Student = normalized.CalibrationData = normalized.TrainingData = normalized.TrainingLabels = normalized.EvaluationData = normalized.EvaluationLabels = null;
        normalized.Tokenizer = normalized.Labels = null;
        normalized.TuneSession = null; // writes a file beside the model, never changes the model's bytes
        sha.AppendData(Encoding.UTF8.GetBytes(normalized.ToJson()));
        sha.AppendData(Encoding.UTF8.GetBytes(typeof(CacheKey).Assembly.GetName().Version + "|ort " + typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version));
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }
}
