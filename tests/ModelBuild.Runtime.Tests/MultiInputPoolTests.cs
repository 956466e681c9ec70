using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ModelBuild.Runtime;
using ModelBuild.Runtime.Tests.Support;

namespace ModelBuild.Runtime.Tests;

public sealed class IntentBertInput
{
    [ColumnName("input_ids"), VectorType(32)] public long[] InputIds { get; set; } = [];
    [ColumnName("attention_mask"), VectorType(32)] public long[] AttentionMask { get; set; } = [];
    [ColumnName("token_type_ids"), VectorType(32)] public long[] TokenTypeIds { get; set; } = [];
}

public sealed class IntentBertScores { [ColumnName("logits")] public float[] Logits { get; set; } = []; }

/// <summary>
/// The pool serves a model with three int64 inputs (the intent-bert teacher: input_ids, attention_mask,
/// token_type_ids, dynamic batch and sequence) and gives the accuracy its reference.json records.
/// </summary>
public sealed partial class MultiInputPoolTests
{
    static string Intent(string file) => Path.Combine(TestPaths.Shared, "teachers", "intent-bert", file);

    [Fact]
    public void A_three_input_bert_predicts_the_test_split_to_its_reference_accuracy()
    {
        var arrays = ReadNpzInt64(Intent("test.npz"));
        var labels = ReadNpyInt64(File.ReadAllBytes(Intent("test_y.npy")));
        using var pool = new PredictionEnginePool<IntentBertInput, IntentBertScores>(new PredictionEnginePoolOptions<IntentBertInput, IntentBertScores>());
        pool.AddModelFromFile("intent", Intent("teacher.onnx"));
        var hits = 0;
        for (var row = 0; row < labels.Length; row++)
        {
            long[] Row(string name) => arrays[name].AsSpan(row * 32, 32).ToArray();
            var scores = pool.Predict("intent", new IntentBertInput { InputIds = Row("input_ids"), AttentionMask = Row("attention_mask"), TokenTypeIds = Row("token_type_ids") }).Logits;
            if (Array.IndexOf(scores, scores.Max()) == labels[row]) hits++;
        }
        var reference = JsonNode.Parse(File.ReadAllText(Intent("reference.json")))!["teacher"]!["test_acc"]!.GetValue<double>() * 100;
        Assert.Equal(reference, 100.0 * hits / labels.Length, 0.01);
    }

    static Dictionary<string, long[]> ReadNpzInt64(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        return zip.Entries.ToDictionary(e => e.FullName[..^4], e =>
        {
            using var stream = e.Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            return ReadNpyInt64(buffer.ToArray());
        });
    }

    static long[] ReadNpyInt64(byte[] bytes)
    {
        int major = bytes[6];
        var headerLength = major == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        var headerStart = major == 1 ? 10 : 12;
        var header = Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        Assert.Contains("'<i8'", header);
        var count = ShapePattern().Match(header).Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Aggregate(1L, (a, d) => a * long.Parse(d));
        var values = new long[count];
        Buffer.BlockCopy(bytes, headerStart + headerLength, values, 0, checked((int)count * 8));
        return values;
    }

    [GeneratedRegex(@"'shape':\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
