using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>One student layer and the teacher layer it learns from (0-based), with the tensors compared.</summary>
public sealed record MappedLayer(int Student, int Teacher, string StudentHidden, string TeacherHidden, string? StudentAttention, string? TeacherAttention);

/// <summary>
/// Which student transformer layer learns from which teacher layer, found from both graphs' structure
/// (<see cref="TransformerLayerFinder"/>), never from tensor names the user gives: the uniform map of
/// <see cref="LayerRun.UniformMap"/> (student layer m of M learns from teacher layer round((m + 1) * N / M) - 1, the one a
/// derived student kept), plus the embedding output (the first layer's input) of each. Hidden states are the layers'
/// output tensors; attention distributions are each layer's Softmax output, paired only when every layer of both
/// graphs has exactly one Softmax (otherwise the map holds hidden states alone).
/// </summary>
public sealed record TransformerLayerMap(string StudentEmbedding, string TeacherEmbedding, IReadOnlyList<MappedLayer> Layers, int TeacherLayers)
{
    public bool HasAttention => Layers.All(l => l.StudentAttention is not null);

    /// <summary>Null when either graph has no transformer encoder layers the finder recognizes.</summary>
    public static TransformerLayerMap? Find(ModelProto teacher, ModelProto student)
    {
        var t = TransformerLayerFinder.Find(teacher);
        var s = TransformerLayerFinder.Find(student);
        if (t is null || s is null || s.Count > t.Count) return null;
        var map = LayerRun.UniformMap(t.Count, s.Count);
        var tAttention = Softmaxes(teacher, t);
        var sAttention = Softmaxes(student, s);
        bool attention = tAttention is not null && sAttention is not null;
        var layers = Enumerable.Range(0, s.Count).Select(m => new MappedLayer(m, map[m], Output(s, m), Output(t, map[m]),
            attention ? sAttention![m] : null, attention ? tAttention![map[m]] : null)).ToList();
        return new TransformerLayerMap(s.Inputs[0], t.Inputs[0], layers, t.Count);
    }

    /// <summary>The report's line: "student layer 1 <- teacher layer 2; ..." (1-based, as people count layers).</summary>
    public string Describe() =>
        $"embeddings <- embeddings; {string.Join("; ", Layers.Select(l => $"student layer {l.Student + 1} <- teacher layer {l.Teacher + 1}"))} (of {TeacherLayers}); "
        + (HasAttention ? "hidden states and attention distributions" : "hidden states only (no single Softmax per layer)");

    static string Output(LayerRun run, int layer) => layer + 1 < run.Count ? run.Inputs[layer + 1] : run.LastOutput;

    /// <summary>Each layer's Softmax output, in layer order, or null unless every layer has exactly one.</summary>
    static string[]? Softmaxes(ModelProto model, LayerRun run)
    {
        var graph = new OnnxGraph(model.Graph);
        var order = graph.TopologicalOrder().ToList();
        var position = order.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i);
        // A layer's nodes lie between the producers of its input and of its output in topological order.
        int Boundary(string tensor) => graph.GetProducer(tensor) is { } p ? position[p] : -1;
        var result = new string[run.Count];
        for (int layer = 0; layer < run.Count; layer++)
        {
            int from = Boundary(run.Inputs[layer]), to = Boundary(Output(run, layer));
            var softmax = order.Skip(from + 1).Take(to - from).Where(n => n.OpType == "Softmax").ToList();
            if (softmax.Count != 1) return null;
            result[layer] = softmax[0].Output[0];
        }
        return result;
    }
}
