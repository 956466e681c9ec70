using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Runtime.Tests.Support;

/// <summary>The reference: a plain ONNX Runtime session run, no pool, same thread settings as the pool's defaults.</summary>
internal static class DirectOnnxRuntime
{
    /// <summary>Logits of each row run on its own (batch 1), as Predict does.</summary>
    public static float[][] PredictRows(string modelPath, float[][] rows)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(modelPath, options);
        return [.. rows.Select(row => Run(session, row, 1)[0])];
    }

    /// <summary>Logits of all rows run as one [N,13] batch.</summary>
    public static float[][] PredictBatch(string modelPath, float[][] rows)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(modelPath, options);
        return Run(session, [.. rows.SelectMany(r => r)], rows.Length);
    }

    private static float[][] Run(InferenceSession session, float[] flat, int n)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(flat, [n, 13]);
        using var results = session.Run(new RunOptions(), ["input"], [input], ["logits"]);
        var all = results[0].GetTensorDataAsSpan<float>().ToArray();
        int perRow = all.Length / n;
        return [.. Enumerable.Range(0, n).Select(i => all[(i * perRow)..((i + 1) * perRow)])];
    }
}
