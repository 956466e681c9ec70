using Microsoft.ML.OnnxRuntime;
using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Compression.Evaluation;

/// <summary>
/// Concrete shapes of every tensor of a graph, from one ONNX Runtime run on deterministic batch-1 inputs (any number of
/// inputs: BERT-style models have ids, mask and segments). Pruning needs static sizes to map units through
/// Reshape/Flatten and to count FLOPs, and derived students are checked by it; running the graph gives them for any
/// operator ORT supports, and is also the check that a rewritten graph is a valid model ORT accepts.
/// Integer inputs are fed 1 (a valid token id, an attention mask of ones), float inputs 0.5.
/// </summary>
public static class TensorShapeProbe
{
    /// <summary>
    /// Every tensor's shape, or null when ONNX Runtime cannot run the graph at the probe's input sizes or the probe
    /// cannot feed an input (for callers to whom the probe is an optional help, e.g. folding computed Reshape targets).
    /// </summary>
    public static Dictionary<string, long[]>? TryRun(ModelProto model)
    {
        try
        {
            return Run(model);
        }
        catch (Exception e) when (e is OnnxRuntimeException or ModelBuildException { Code: CannotFeedCode })
        {
            return null;
        }
    }

    /// <param name="intermediates">Also every node output (false: the graph outputs only, a cheaper run on large graphs).</param>
    public static Dictionary<string, long[]> Run(ModelProto model, bool intermediates = true)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var init in model.Graph.Initializer) shapes[init.Name] = init.Dims.ToArray();
        var initializers = model.Graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = model.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        var tapped = intermediates ? model.Graph.Node.SelectMany(n => n.Output) : [];
        using var runner = ModelRunner.Tapping(model, tapped);
        var values = new List<OrtValue>();
        try
        {
            foreach (var input in inputs) values.Add(ProbeInput(input));
            var outputs = runner.OutputNames;
            var results = runner.RunTensors(inputs.Select(i => i.Name).ToArray(), values, outputs);
            for (var i = 0; i < inputs.Count; i++) shapes[inputs[i].Name] = values[i].GetTensorTypeAndShape().Shape;
            foreach (var result in results) shapes[result.Name] = result.Shape;
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
        return shapes;
    }

    static OrtValue ProbeInput(ValueInfoProto input)
    {
        long[] shape = input.Type.TensorType.Shape.Dim
            .Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0 ? d.DimValue : 1L).ToArray();
        int count = checked((int)shape.Aggregate(1L, (a, d) => a * d));
        return input.Type.TensorType.ElemType switch
        {
            (int)TensorProto.Types.DataType.Float => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(0.5f, count).ToArray(), shape),
            (int)TensorProto.Types.DataType.Int64 => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, count).ToArray(), shape),
            (int)TensorProto.Types.DataType.Int32 => OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1, count).ToArray(), shape),
            var t => throw CannotFeed(input.Name, (TensorProto.Types.DataType)t),
        };
    }

    /// <summary>MB0564: the probe builds no input of this element type (see docs/diagnostics.md).</summary>
    public const string CannotFeedCode = "MB0564";

    static ModelBuildException CannotFeed(string input, TensorProto.Types.DataType type) => new(CannotFeedCode,
        $"ModelBuild cannot run the model to learn its tensor shapes (pruning, derived students): its input '{input}' is {type}, and the probe feeds float, int64 or int32 inputs.",
        "Skip --prune (Prune) and derived students (--student-width/--student-depth) for this model, or export it with float or integer inputs.");
}
