using ModelBuild.Runtime;

namespace DigitsWeb;

public static class DigitModel
{
    /// <summary>The name the model is registered under in the pool.</summary>
    public const string Name = "digits";
}

/// <summary>mnist-8's input: one 28x28 grey image, raw 0..255 pixel values, tensor Input3 [1,1,28,28].</summary>
public sealed class DigitInput
{
    public const int PixelCount = 28 * 28;

    [ColumnName("Input3"), VectorType(1, 1, 28, 28)]
    public float[] Pixels { get; set; } = new float[PixelCount];
}

/// <summary>mnist-8's output: ten logits, tensor Plus214_Output_0 [1,10].</summary>
public sealed class DigitScores
{
    [ColumnName("Plus214_Output_0")]
    public float[] Scores { get; set; } = [];
}

/// <summary>POST /predict's body: 784 pixel values, row by row.</summary>
public sealed record DigitRequest(float[]? Pixels);

/// <summary>POST /predict's answer: the digit, its probability, the softmax over all ten digits and the raw logits.</summary>
public sealed record DigitPrediction(int Digit, float Probability, float[] Probabilities, float[] Scores)
{
    public static DigitPrediction From(float[] logits)
    {
        var max = logits.Max();
        var exp = logits.Select(l => MathF.Exp(l - max)).ToArray();
        var sum = exp.Sum();
        var probabilities = exp.Select(e => e / sum).ToArray();
        var digit = Array.IndexOf(logits, max);
        return new DigitPrediction(digit, probabilities[digit], probabilities, logits);
    }
}
