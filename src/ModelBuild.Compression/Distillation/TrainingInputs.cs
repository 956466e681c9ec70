using ModelBuild.Compression.Data;
using ModelBuild.Compression.Distillation.Import;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// The distiller's inputs as TorchSharp tensors: one per teacher input, in the teacher's order and named as the teacher
/// names them, with samples on axis 0 and the same number of rows in each (what an <see cref="InputSet"/> bound to the
/// teacher gives: one array for a single-input model, input_ids/attention_mask/token_type_ids for a BERT-style one).
/// Batches are selected from every input at once.
/// </summary>
public sealed class TrainingInputs
{
    readonly (string Name, Tensor Tensor)[] _inputs;

    public TrainingInputs(IEnumerable<(string Name, Tensor Tensor)> inputs, IReadOnlyList<string>? texts = null)
    {
        _inputs = inputs.ToArray();
        Texts = texts;
        if (_inputs.Length == 0) throw new ArgumentException("At least one input.", nameof(inputs));
        if (_inputs.Any(i => i.Tensor.shape[0] != _inputs[0].Tensor.shape[0]))
            throw new ArgumentException($"Inputs with different row counts: {string.Join(", ", _inputs.Select(i => $"{i.Name} {i.Tensor.shape[0]}"))}.", nameof(inputs));
        if (texts is not null && texts.Count != _inputs[0].Tensor.shape[0])
            throw new ArgumentException($"{texts.Count} texts for {_inputs[0].Tensor.shape[0]} rows.", nameof(texts));
    }

    /// <summary>
    /// For text data, the texts the rows were tokenized from (row-aligned, selected and sliced with them): what a
    /// teacher endpoint that tokenizes for itself is sent. Null for other data.
    /// </summary>
    public IReadOnlyList<string>? Texts { get; }

    /// <summary>The same rows with the texts they were tokenized from.</summary>
    public TrainingInputs WithTexts(IReadOnlyList<string>? texts) => new(_inputs, texts);

    /// <summary>One input (a single-input model's data, or generated samples).</summary>
    public static TrainingInputs Single(string name, Tensor tensor) => new([(name, tensor)]);

    /// <summary>
    /// A data set bound to the model's inputs (by name; a lone array binds to a single-input model), each input in the
    /// element type the model declares for it (token ids int64 or int32; every float type as float32).
    /// </summary>
    public static TrainingInputs From(InputSet data, ModelProto model, string role)
    {
        var initializers = model.Graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var declared = model.Graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        var bound = data.BindTo(declared.Select(i => i.Name).ToList(), role);
        return new(bound.Inputs.Select(i =>
        {
            var t = DistillationData.ToInputTensor(i.Tensor);
            var type = (TensorProto.Types.DataType)(declared.First(d => d.Name == i.Name).Type?.TensorType?.ElemType ?? 0);
            if (!i.Tensor.IsFloat && type == TensorProto.Types.DataType.Int32) t = t.to_type(ScalarType.Int32);
            return (i.Name!, t);
        }));
    }

    public IReadOnlyList<string> Names => _inputs.Select(i => i.Name).ToArray();
    public long Rows => _inputs[0].Tensor.shape[0];
    public bool IsSingle => _inputs.Length == 1;

    /// <summary>The first input: a single-input model's data, or the token ids sequence truncation measures.</summary>
    public Tensor First => _inputs[0].Tensor;

    public TrainingInputs IndexSelect(Tensor rows) => new(_inputs.Select(i => (i.Name, i.Tensor.index_select(0, rows))),
        Texts is null ? null : rows.data<long>().Select(r => Texts[(int)r]).ToArray());

    /// <summary>Rows [start, end).</summary>
    public TrainingInputs Slice(long start, long end) => new(_inputs.Select(i => (i.Name, i.Tensor.slice(0, start, end, 1))),
        Texts is null ? null : Texts.Skip((int)start).Take((int)(end - start)).ToArray());

    /// <summary>A single input's first <paramref name="length"/> positions (sequence truncation of a token model).</summary>
    public TrainingInputs Narrow(long length) => new(_inputs.Select(i => (i.Name, i.Tensor.narrow(1, 0, length))), Texts);

    /// <summary>
    /// The inputs of <paramref name="module"/> by its names: a single input feeds a single-input module whatever each
    /// calls it; otherwise every module input must be one of these (a student reads the teacher's inputs).
    /// </summary>
    public Dictionary<string, Tensor> For(OnnxGraphModule module)
    {
        if (IsSingle && module.InputNames.Count == 1) return new(StringComparer.Ordinal) { [module.InputNames[0]] = _inputs[0].Tensor };
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var name in module.InputNames)
            result[name] = _inputs.FirstOrDefault(i => i.Name == name).Tensor
                ?? throw new ArgumentException($"The module input '{name}' is not among the data's inputs ({string.Join(", ", Names)}).", nameof(module));
        return result;
    }

    /// <summary>The inputs by name, for ONNX Runtime.</summary>
    public Dictionary<string, Tensor> ByName() => _inputs.ToDictionary(i => i.Name, i => i.Tensor, StringComparer.Ordinal);
}
