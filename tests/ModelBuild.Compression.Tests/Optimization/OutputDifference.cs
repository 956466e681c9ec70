using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Compression.Tests.Optimization;

/// <summary>How far two models' outputs are apart on the same data, measured in ONNX Runtime by the test itself.</summary>
internal static class OutputDifference
{
    /// <summary>Largest absolute difference over every output, run in batches of <paramref name="batch"/> (1: a row at a time).</summary>
    public static double Max(string a, string b, InputSet data, int batch = 64)
    {
        using var ra = new ModelRunner(a);
        using var rb = new ModelRunner(b);
        var oa = ra.RunAll(data, batch);
        var ob = rb.RunAll(data, batch);
        Assert.Equal(oa.Names, ob.Names);
        var max = 0.0;
        for (var o = 0; o < oa.Values.Length; o++)
        {
            Assert.Equal(oa.Values[o].Length, ob.Values[o].Length);
            for (var i = 0; i < oa.Values[o].Length; i++) max = Math.Max(max, Math.Abs((double)oa.Values[o][i] - ob.Values[o][i]));
        }
        return max;
    }
}
