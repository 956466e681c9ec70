using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Runtime.Tests.Support;
using ModelBuild.TestSupport;

namespace ModelBuild.Runtime.Tests;

public sealed class Utterance
{
    public string Text { get; set; } = "";
}

public sealed class IntentScores
{
    [ColumnName("logits")]
    public float[] Scores { get; set; } = [];
}

public sealed class NoTextInput
{
    [NoColumn] public int Id { get; set; }
}

/// <summary>
/// The pool serves intent-bert's teacher from strings: the tokenizer configured on the model fills input_ids,
/// attention_mask and token_type_ids, and the scores equal the same model's on test.npz (Hugging Face's ids).
/// </summary>
public sealed class TextServingTests
{
    static string Bert(string file) => Path.Combine(TestPaths.Shared, "teachers", "intent-bert", file);

    static string[] TestTexts() => File.ReadLines(Bert("test.tsv")).Skip(1).Select(l => l.Split('\t')[0]).ToArray();

    /// <summary>The teacher run directly on the test.npz rows (batch 1, the pool's default thread settings).</summary>
    static float[][] ReferenceScores()
    {
        var arrays = Int64Npz.Read(Bert("test.npz"));
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(Bert("teacher.onnx"), options);
        var (rows, length) = (arrays["input_ids"].Rows, arrays["input_ids"].Length);
        var result = new float[rows][];
        for (var r = 0; r < rows; r++)
        {
            var names = new[] { "input_ids", "attention_mask", "token_type_ids" };
            var values = names.Select(n => OrtValue.CreateTensorValueFromMemory(arrays[n].Data.AsSpan(r * length, length).ToArray(), [1, length])).ToArray();
            using var outputs = session.Run(new RunOptions(), names, values, ["logits"]);
            result[r] = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            foreach (var v in values) v.Dispose();
        }
        return result;
    }

    static PredictionEnginePool<Utterance, IntentScores> Pool(Action<PredictionEnginePoolBuilder<Utterance, IntentScores>> configure, out ServiceProvider provider)
    {
        var services = new ServiceCollection();
        configure(services.AddPredictionEnginePool<Utterance, IntentScores>());
        provider = services.BuildServiceProvider();
        return provider.GetRequiredService<PredictionEnginePool<Utterance, IntentScores>>();
    }

    static int ArgMax(float[] scores) => Array.IndexOf(scores, scores.Max());

    [Fact]
    public void Strings_padded_as_at_training_score_exactly_as_test_npz()
    {
        var pool = Pool(b => b.FromFile("intents", Bert("teacher.onnx"), watchForChanges: false).WithTokenizer(Bert("vocab.txt"), maxLength: 32, padToMaxLength: true), out var provider);
        using var _ = provider;
        var expected = ReferenceScores();
        var texts = TestTexts();
        Assert.Equal(expected.Length, texts.Length);
        for (var i = 0; i < texts.Length; i++)
            Assert.True(expected[i].SequenceEqual(pool.Predict("intents", new Utterance { Text = texts[i] }).Scores), $"row {i} '{texts[i]}'");
    }

    [Fact]
    public void Strings_padded_to_the_longest_row_predict_the_classes_of_test_npz_one_by_one_and_in_batches()
    {
        var pool = Pool(b => b.FromFile("intents", Bert("teacher.onnx"), watchForChanges: false).WithTokenizer(Bert("vocab.txt")), out var provider);
        using var _ = provider;
        var expected = ReferenceScores().Select(ArgMax).ToArray();
        var texts = TestTexts();
        Assert.Equal(expected, texts.Select(t => ArgMax(pool.Predict("intents", new Utterance { Text = t }).Scores)).ToArray());
        var batched = texts.Chunk(64).SelectMany(chunk => pool.PredictBatch("intents", chunk.Select(t => new Utterance { Text = t }).ToArray())).Select(s => ArgMax(s.Scores)).ToArray();
        Assert.Equal(expected, batched);
        Assert.Equal(12, pool.Predict("intents", new Utterance { Text = "cancel my 3pm" }).Scores.Length);
    }

    /// <summary>
    /// A text longer than the model's position table (64 here; the sequence axis is dynamic, so the default cut is 512)
    /// failed with a bare OnnxRuntimeException from the embedding's Add. It is MB0714 naming the model, and the pool
    /// still serves the next call.
    /// </summary>
    [Fact]
    public void A_text_longer_than_the_models_positions_is_MB0714_and_the_pool_keeps_serving()
    {
        var pool = Pool(b => b.FromFile("intents", Bert("teacher.onnx"), false).WithTokenizer(Bert("vocab.txt")), out var provider);
        using var _ = provider;
        var e = Assert.Throws<ModelRuntimeException>(() => pool.Predict("intents", new Utterance { Text = string.Join(" ", Enumerable.Repeat("delete my meeting", 400)) }));
        Assert.Equal(RuntimeErrorCodes.RunFailed, e.Code);
        Assert.Contains("Model 'intents'", e.Cause);
        Assert.Contains("maxLength", e.Remedy);
        Assert.IsType<OnnxRuntimeException>(e.InnerException);
        Assert.Equal(12, pool.Predict("intents", new Utterance { Text = "cancel my 3pm" }).Scores.Length);
    }

    /// <summary>A text input class on a token-id model without WithTokenizer: the remedy points at the tokenizer.</summary>
    [Fact]
    public void A_string_input_without_a_tokenizer_is_MB0707_pointing_at_WithTokenizer()
    {
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<Utterance, IntentScores>().FromFile("intents", Bert("teacher.onnx"), false);
        using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<ModelRuntimeException>(() => provider.GetRequiredService<PredictionEnginePool<Utterance, IntentScores>>());
        Assert.Equal(RuntimeErrorCodes.MissingInput, e.Code);
        Assert.Contains("WithTokenizer", e.Remedy);
    }

    [Fact]
    public void A_warm_text_prediction_allocates_little()
    {
        var pool = Pool(b => b.FromFile("intents", Bert("teacher.onnx"), false).WithTokenizer(Bert("vocab.txt"), maxLength: 32, padToMaxLength: true), out var provider);
        using var _ = provider;
        var input = new Utterance { Text = "ok delete all my huddles the day after tomorrow" };
        var output = new IntentScores();
        for (var i = 0; i < 20; i++) pool.Predict("intents", input, output);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) pool.Predict("intents", input, output);
        var perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 100.0;
        // The tokenizer's id list and the encoded row (about 650 bytes here); buffers and OrtValues are reused.
        Assert.True(perCall < 2048, $"{perCall} bytes per call");
    }

    [Fact]
    public void MB0730_a_tokenizer_file_the_library_cannot_read()
    {
        var bad = Path.Combine(Path.GetTempPath(), $"mb-bad-{Guid.NewGuid():N}.model");
        File.WriteAllText(bad, "not a sentencepiece model");
        try
        {
            var e = Assert.Throws<ModelRuntimeException>(() => Pool(b => b.FromFile("intents", Bert("teacher.onnx"), false).WithTokenizer(bad), out _));
            Assert.Equal("MB0730", e.Code);
            Assert.Contains(bad, e.Message);
        }
        finally { File.Delete(bad); }
    }

    [Fact]
    public void MB0731_an_input_class_without_a_string_property()
    {
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<NoTextInput, IntentScores>().FromFile("intents", Bert("teacher.onnx"), false).WithTokenizer(Bert("vocab.txt"));
        using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<ModelRuntimeException>(() => provider.GetRequiredService<PredictionEnginePool<NoTextInput, IntentScores>>());
        Assert.Equal("MB0731", e.Code);
    }

    [Fact]
    public void MB0732_a_tokenizer_on_a_model_with_a_float_input()
    {
        var services = new ServiceCollection();
        services.AddPredictionEnginePool<Utterance, WineScores>().FromFile("wine", TestPaths.WineTeacher, false).WithTokenizer(Bert("vocab.txt"));
        using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<ModelRuntimeException>(() => provider.GetRequiredService<PredictionEnginePool<Utterance, WineScores>>());
        Assert.Equal("MB0732", e.Code);
    }

    [Fact]
    public void MB0733_accented_text_in_an_invariant_globalization_process_is_refused()
    {
        // This test project keeps the repository's InvariantGlobalization=true, as many apps have it.
        var pool = Pool(b => b.FromFile("intents", Bert("teacher.onnx"), false).WithTokenizer(Bert("vocab.txt")), out var provider);
        using var _ = provider;
        var e = Assert.Throws<ModelRuntimeException>(() => pool.Predict("intents", new Utterance { Text = "annulez la réunion" }));
        Assert.Equal("MB0733", e.Code);
        Assert.Equal(12, pool.Predict("intents", new Utterance { Text = "cancel the meeting" }).Scores.Length); // ASCII text is fine
    }
}
