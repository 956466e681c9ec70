using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Onnx.Graph;
using Onnx;

namespace ModelBuild.Compression.Data;

/// <summary>
/// Generated inputs for every input of a model, from its signature and graph, for timing and calibration when no data
/// file was given. Values are deterministic (a fixed seed per input) and chosen to be valid: floats in [0, 1); integer
/// ids below the vocabulary size when the input indexes an embedding table (a Gather on an initializer, through
/// Cast/Reshape/Unsqueeze), masks (<c>*mask*</c>) all 1, segment ids (<c>*type*</c>, <c>*segment*</c>) all 0,
/// positions 0, 1, 2, ... Dynamic dimensions become small sizes: the batch axis the sample count, every other named
/// dimension (one size per name, so <c>input_ids</c> and <c>attention_mask</c> agree) <see cref="DynamicSize"/>.
/// </summary>
public static class SyntheticSample
{
    public const int DynamicSize = 4;
    /// <summary>The height and width a generated image gets when the model leaves them symbolic.</summary>
    public const long SpatialSize = 224;

    static bool dims4(NodeMetadata meta) => meta.Dimensions.Length == 4;
    public const string Path = "<generated>";

    /// <summary>One generated sample (kept for callers that time a model without data).</summary>
    public static InputSet For(string modelPath) => For(modelPath, 1);

    public static InputSet For(string modelPath, int samples)
    {
        using var session = OrtSessions.OpenForInputs(modelPath);
        var inputNames = session.InputMetadata.Keys.ToArray();
        var sampleAxes = OrtSessions.SampleAxes(session.InputMetadata);
        var graph = ModelProto.Parser.ParseFrom(ModelBuild.Onnx.OnnxModel.Load(modelPath).ToBytes()).Graph;
        var vocabulary = VocabularyBounds(graph);
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var inputs = new List<NamedTensor>();
        for (var index = 0; index < inputNames.Length; index++)
        {
            var name = inputNames[index];
            var meta = session.InputMetadata[name];
            var axis = sampleAxes[name];
            var symbols = meta.SymbolicDimensions ?? [];
            var dims = meta.Dimensions.Select((d, i) =>
            {
                if (i == axis && d <= 0) return samples;
                if (d > 0) return (long)d;
                // A symbolic height/width of an image input ([N,C,H,W]) is generated at 224x224, the usual ImageNet size.
                if (dims4(meta) && i >= 2 && meta.ElementDataType is TensorElementType.Float or TensorElementType.Float16) return SpatialSize;
                var symbol = i < symbols.Length ? symbols[i] : "";
                return string.IsNullOrEmpty(symbol) ? DynamicSize : sizes.TryGetValue(symbol, out var s) ? s : sizes[symbol] = DynamicSize;
            }).ToArray();
            var count = checked((int)dims.Aggregate(1L, (a, b) => a * b));
            var random = new Random(1234 + index);
            DataTensor tensor;
            if (meta.ElementDataType is TensorElementType.Float or TensorElementType.Float16 or TensorElementType.Double)
            {
                var values = new float[count];
                for (var i = 0; i < count; i++) values[i] = (float)random.NextDouble();
                tensor = new DataTensor(Path, dims, values, null, "float32");
            }
            else
            {
                tensor = new DataTensor(Path, dims, null, Integers(name, dims, vocabulary.GetValueOrDefault(name), random), "int64");
            }
            inputs.Add(new NamedTensor(name, tensor, axis));
        }
        return new InputSet(inputs);
    }

    static long[] Integers(string name, long[] dims, long vocabulary, Random random)
    {
        var count = checked((int)dims.Aggregate(1L, (a, b) => a * b));
        var lower = name.ToLowerInvariant();
        if (lower.Contains("mask")) return Enumerable.Repeat(1L, count).ToArray();
        if (lower.Contains("type") || lower.Contains("segment")) return new long[count];
        if (lower.Contains("position"))
        {
            var last = dims.Length == 0 ? 1 : Math.Max(1, dims[^1]);
            return Enumerable.Range(0, count).Select(i => i % last).ToArray();
        }
        // Ids: 1 (a valid id for any table) when no table bound is known, else spread over the table, avoiding id 0 (padding).
        if (vocabulary <= 2) return Enumerable.Repeat(Math.Min(1L, Math.Max(0, vocabulary - 1)), count).ToArray();
        return Enumerable.Range(0, count).Select(_ => 1 + random.NextInt64(vocabulary - 1)).ToArray();
    }

    /// <summary>
    /// Per graph input, the number of rows of the embedding table it indexes: the first dimension of an initializer
    /// that a Gather reads at the input's values, following Cast/Reshape/Unsqueeze/Squeeze/Flatten/Identity.
    /// </summary>
    static Dictionary<string, long> VocabularyBounds(GraphProto graph)
    {
        // A malformed graph may repeat an initializer's name; ONNX Runtime runs it with the last one, so that one bounds the ids.
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var t in graph.Initializer) initializers[t.Name] = t;
        var consumers = graph.Node.SelectMany(n => n.Input.Select(i => (i, n))).ToLookup(p => p.i, p => p.n, StringComparer.Ordinal);
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var input in graph.Input.Where(i => !initializers.ContainsKey(i.Name)))
        {
            var frontier = new Queue<(string Tensor, int Depth)>([(input.Name, 0)]);
            while (frontier.Count > 0 && !result.ContainsKey(input.Name))
            {
                var (tensor, depth) = frontier.Dequeue();
                foreach (var node in consumers[tensor])
                {
                    if (node.OpType == "Gather" && node.Input.Count == 2 && node.Input[1] == tensor && initializers.TryGetValue(node.Input[0], out var table) && table.Dims.Count > 0)
                    {
                        var axis = node.GetInt("axis", 0);
                        result[input.Name] = table.Dims[(int)(axis < 0 ? axis + table.Dims.Count : axis)];
                        break;
                    }
                    if (depth < 4 && node.OpType is "Cast" or "Reshape" or "Unsqueeze" or "Squeeze" or "Flatten" or "Identity" && node.Input[0] == tensor)
                        frontier.Enqueue((node.Output[0], depth + 1));
                }
            }
        }
        return result;
    }
}
