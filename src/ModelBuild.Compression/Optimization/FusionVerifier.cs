using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// Runs a rewritten model against the original's outputs in ONNX Runtime and says whether every output stays within
/// the tolerance (absolute), and by how much it moved.
/// </summary>
public sealed class FusionVerifier
{
    /// <summary>The largest absolute difference a fused graph may show on any output value.</summary>
    public const double DefaultTolerance = 1e-4;

    readonly InputSet _data;
    readonly ModelOutputs _reference;
    readonly long[][] _referenceShapes;

    public FusionVerifier(string originalPath, InputSet data, double tolerance = DefaultTolerance)
    {
        _data = data;
        Tolerance = tolerance;
        (_reference, _referenceShapes) = Run(originalPath);
    }

    public double Tolerance { get; }

    /// <summary>The samples the check runs (the reference side's count).</summary>
    public int Samples => _reference.Samples;

    /// <summary>The largest absolute difference from the original over every output, or the reason it could not run.</summary>
    public (double? MaxDifference, string? Failure) Check(string candidatePath)
    {
        ModelOutputs outputs;
        long[][] shapes;
        try { (outputs, shapes) = Run(candidatePath); }
        catch (Exception e) when (e is OnnxRuntimeException or ModelBuild.Onnx.Diagnostics.ModelBuildException)
        {
            return (null, "ONNX Runtime cannot run the fused graph: " + ModelRunner.FirstLine(e.Message));
        }
        if (!outputs.Names.SequenceEqual(_reference.Names))
            return (null, "the fused graph's outputs differ from the original's");
        var max = 0.0;
        for (var o = 0; o < outputs.Values.Length; o++)
        {
            var a = _reference.Values[o];
            var b = outputs.Values[o];
            if (a.Length != b.Length) return (null, $"output '{outputs.Names[o]}' has {b.Length} values instead of {a.Length}");
            // The same values in another shape ([1,B,d] for [B,d]) are not the same output to a caller.
            if (!shapes[o].SequenceEqual(_referenceShapes[o]))
                return (null, $"output '{outputs.Names[o]}' has shape [{string.Join(",", shapes[o])}] instead of [{string.Join(",", _referenceShapes[o])}]");
            for (var i = 0; i < a.Length; i++)
            {
                var d = Math.Abs((double)a[i] - b[i]);
                if (double.IsNaN(d)) d = a[i].Equals(b[i]) ? 0 : double.PositiveInfinity;
                max = Math.Max(max, d);
            }
        }
        return (max, null);
    }

    /// <summary>Every output over the data, and each output's shape on the first batch.</summary>
    (ModelOutputs Outputs, long[][] Shapes) Run(string path)
    {
        using var runner = new ModelRunner(path, 1);
        var outputs = runner.RunAll(_data, 32);
        var bound = runner.Bind(_data, "data");
        var first = runner.RunTensors(bound, 0, Math.Min(runner.BatchSize(32), bound.Count), outputs.Names);
        return (outputs, first.Select(t => t.Shape).ToArray());
    }
}
