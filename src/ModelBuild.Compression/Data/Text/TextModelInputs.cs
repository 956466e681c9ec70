using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Text;

namespace ModelBuild.Compression.Data.Text;

/// <summary>One model input a tokenizer fills: its name, what it holds, int32 or int64, and its fixed sequence length.</summary>
public sealed record TextModelInput(string Name, string Role, bool IsInt32, long? FixedLength);

/// <summary>Reads which inputs of a model text fills (MB0145 for an input it cannot fill).</summary>
public static class TextModelInputs
{
    public static IReadOnlyList<TextModelInput> FromModel(string modelPath)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1 };
        using var session = new InferenceSession(modelPath, options);
        return FromMetadata(modelPath, session.InputMetadata.Select(p => (p.Key, p.Value.ElementDataType, p.Value.Dimensions)).ToList());
    }

    public static IReadOnlyList<TextModelInput> FromMetadata(string modelPath, IReadOnlyList<(string Name, TensorElementType Type, int[] Dimensions)> inputs)
    {
        var result = new List<TextModelInput>();
        foreach (var (name, type, dims) in inputs)
        {
            var role = TextInputRoles.Of(name, inputs.Count)
                ?? throw TextDataErrors.Input(modelPath, name, "its name is none of input_ids, attention_mask, token_type_ids");
            if (type is not (TensorElementType.Int32 or TensorElementType.Int64))
                throw TextDataErrors.Input(modelPath, name, $"it takes {type}, not int32 or int64");
            if (dims.Length != 2) throw TextDataErrors.Input(modelPath, name, $"it has {dims.Length} dimensions, not [batch, sequence]");
            result.Add(new TextModelInput(name, TextInputRoles.Conventional(role), type == TensorElementType.Int32, dims[1] > 0 ? dims[1] : null));
        }
        if (!result.Any(r => r.Role == "input_ids")) throw TextDataErrors.Input(modelPath, inputs.Count == 0 ? "(none)" : inputs[0].Name, "the model has no input_ids input");
        var lengths = result.Select(r => r.FixedLength).Where(l => l is not null).Distinct().ToList();
        if (lengths.Count > 1) throw TextDataErrors.Input(modelPath, result[0].Name, $"the inputs fix different sequence lengths ({string.Join(", ", lengths)})");
        return result;
    }
}
