using ModelBuild.Runtime;

namespace IntentRouter;

/// <summary>The model's input: 32 token ids (int64 tensor <c>input</c> [1,32]), written in place by <see cref="IntentTokenizer"/>.</summary>
public sealed class IntentQuery
{
    [ColumnName("input"), VectorType(IntentTokenizer.SequenceLength)]
    public long[] TokenIds { get; set; } = new long[IntentTokenizer.SequenceLength];
}

/// <summary>The model's output: one logit per intent (tensor <c>logits</c> [1,12]), in the order of Models/labels.json.</summary>
public sealed class IntentScores
{
    [ColumnName("logits")]
    public float[] Logits { get; set; } = [];

    public int BestIndex()
    {
        var best = 0;
        for (var i = 1; i < Logits.Length; i++) if (Logits[i] > Logits[best]) best = i;
        return best;
    }

    /// <summary>Softmax probability of the best intent.</summary>
    public double Confidence()
    {
        var max = Logits[BestIndex()];
        var sum = 0.0;
        foreach (var logit in Logits) sum += Math.Exp(logit - max);
        return 1.0 / sum;
    }
}
