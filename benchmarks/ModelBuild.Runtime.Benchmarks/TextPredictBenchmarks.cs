using BenchmarkDotNet.Attributes;

namespace ModelBuild.Runtime.Benchmarks;

public sealed class Utterance
{
    public string Text { get; set; } = "";
}

public sealed class IntentTokens
{
    [ColumnName("input_ids"), VectorType(32)] public long[] InputIds { get; set; } = new long[32];
    [ColumnName("attention_mask"), VectorType(32)] public long[] AttentionMask { get; set; } = new long[32];
    [ColumnName("token_type_ids"), VectorType(32)] public long[] TokenTypeIds { get; set; } = new long[32];
}

public sealed class IntentScores
{
    [ColumnName("logits")] public float[] Scores { get; set; } = new float[12];
}

/// <summary>
/// One intent-bert prediction from a string (the tokenizer in the pool: Microsoft.ML.Tokenizers' BERT WordPiece with
/// Hugging Face's splitting, then the token inputs), padded to the text's own length or to 32, against the same model
/// fed pre-tokenized ids (what the tokenizer costs per call, in time and managed bytes).
/// </summary>
[MemoryDiagnoser]
public class TextPredictBenchmarks
{
    private PredictionEnginePool<Utterance, IntentScores> _text = null!;
    private PredictionEnginePool<Utterance, IntentScores> _text32 = null!;
    private PredictionEnginePool<IntentTokens, IntentScores> _ids = null!;
    private readonly IntentScores _output = new();
    private readonly Utterance _utterance = new() { Text = "ok delete all my huddles the day after tomorrow" };
    private readonly IntentTokens _tokens = new();

    [GlobalSetup]
    public void Setup()
    {
        var folder = Path.Combine(Path.GetDirectoryName(BenchmarkData.WineDirectory)!, "intent-bert");
        var model = Path.Combine(folder, "teacher.onnx");
        var vocab = Path.Combine(folder, "vocab.txt");
        var longest = new PredictionEnginePoolOptions<Utterance, IntentScores>();
        longest.Tokenizers["intents"] = new ModelTokenizerOptions { TokenizerPath = vocab };
        _text = new PredictionEnginePool<Utterance, IntentScores>(longest);
        _text.AddModelFromFile("intents", model);
        var padded = new PredictionEnginePoolOptions<Utterance, IntentScores>();
        padded.Tokenizers["intents"] = new ModelTokenizerOptions { TokenizerPath = vocab, MaxLength = 32, PadToMaxLength = true };
        _text32 = new PredictionEnginePool<Utterance, IntentScores>(padded);
        _text32.AddModelFromFile("intents", model);
        _ids = new PredictionEnginePool<IntentTokens, IntentScores>(new PredictionEnginePoolOptions<IntentTokens, IntentScores>());
        _ids.AddModelFromFile("intents", model);

        // The ids of the same text (test.npz row 0 is this utterance): the three must agree before they are timed.
        long[] ids = [2, 102, 120, 201, 81, 23, 615, 56, 514, 71, 79, 153, 16, 609, 494, 122, 3];
        ids.CopyTo(_tokens.InputIds, 0);
        for (var i = 0; i < ids.Length; i++) _tokens.AttentionMask[i] = 1;
        var a = _text32.Predict("intents", _utterance).Scores;
        var b = _ids.Predict("intents", _tokens).Scores;
        if (!a.SequenceEqual(b)) throw new InvalidOperationException("text and ids disagree (the ids are test.npz row 0)");
    }

    [Benchmark(Baseline = true)]
    public IntentScores Ids()
    {
        _ids.Predict("intents", _tokens, _output);
        return _output;
    }

    [Benchmark]
    public IntentScores TextPaddedTo32()
    {
        _text32.Predict("intents", _utterance, _output);
        return _output;
    }

    [Benchmark]
    public IntentScores TextOwnLength()
    {
        _text.Predict("intents", _utterance, _output);
        return _output;
    }
}
