using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// Concrete shapes of every tensor of a graph from one ONNX Runtime run on deterministic batch-1 inputs, for graphs
/// with any number of inputs (the pruning probe takes one; BERT-style teachers have ids, mask and segment inputs).
/// Running the graph is also the check that a derived student is a valid model ORT accepts.
/// Integer inputs are fed 1 (a valid token id, an attention mask of ones), float inputs 0.5.
/// </summary>
public static class StudentShapeProbe
{
    /// <param name="intermediates">Also every node output (false: the graph outputs only, a cheaper run on large graphs).</param>
    public static Dictionary<string, long[]> Run(ModelProto model, bool intermediates = true)
    {
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var init in model.Graph.Initializer) shapes[init.Name] = init.Dims.ToArray();
        var tapped = model.Clone();
        var existing = tapped.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in tapped.Graph.Node.SelectMany(n => n.Output).Where(o => intermediates && o.Length > 0))
            if (existing.Add(name)) tapped.Graph.Output.Add(new ValueInfoProto { Name = name });
        tapped.Graph.ValueInfo.Clear();
        var initializers = tapped.Graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var inputs = tapped.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(tapped.ToByteArray(), options);
        var values = inputs.Select(ProbeInput).ToList();
        try
        {
            var outputNames = tapped.Graph.Output.Select(o => o.Name).ToArray();
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, outputNames);
            for (int i = 0; i < inputs.Count; i++) shapes[inputs[i].Name] = values[i].GetTensorTypeAndShape().Shape;
            for (int i = 0; i < outputNames.Length; i++)
                if (results[i].IsTensor) shapes[outputNames[i]] = results[i].GetTensorTypeAndShape().Shape;
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
            var t => throw new NotSupportedException($"Cannot build a probe input of ONNX element type {t} for '{input.Name}'."),
        };
    }
}
