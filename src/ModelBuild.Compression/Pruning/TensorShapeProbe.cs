using Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Concrete shapes of every tensor in a graph, taken from one ONNX Runtime run on deterministic batch-1 inputs.
/// Pruning needs static sizes to map units through Reshape/Flatten and to count FLOPs; running the graph gives
/// them for any operator ORT supports, including ones a static inferencer would not know.
/// </summary>
public static class TensorShapeProbe
{
    public static Dictionary<string, long[]> Run(ModelProto model)
    {
        var initializers = model.Graph.Initializer.Select(i => i.Name).ToHashSet();
        if (model.Graph.Input.Count(i => !initializers.Contains(i.Name)) > 1)
        {
            // Several inputs (BERT's ids, mask and segments): the probe that feeds every input.
            return Distillation.Students.StudentShapeProbe.Run(model);
        }
        var shapes = new Dictionary<string, long[]>();
        foreach (var init in model.Graph.Initializer)
        {
            shapes[init.Name] = init.Dims.ToArray();
        }
        var names = model.Graph.Node.SelectMany(n => n.Output).Where(o => o.Length > 0).ToList();
        using var runner = new IntermediateTensorRunner(model, names);
        using var input = runner.CreateProbeInput();
        shapes[runner.InputName] = input.GetTensorTypeAndShape().Shape;
        runner.Run(input, (name, shape, _, _) => shapes[name] = shape);
        return shapes;
    }
}
