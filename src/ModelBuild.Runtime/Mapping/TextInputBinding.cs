using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Text;

namespace ModelBuild.Runtime.Mapping;

/// <summary>
/// The text property of <typeparamref name="TIn"/> bound through a tokenizer to the model's token inputs
/// (<c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>): which inputs, their element type and the
/// sequence length rule (the model's fixed length, <see cref="ModelTokenizerOptions.PadToMaxLength"/>, or the longest
/// row of each call). Built once per model generation.
/// </summary>
internal sealed class TextInputBinding<TIn>
{
    private TextInputBinding(string modelName, string propertyName, Func<TIn, string?> text, TextTokenizer tokenizer, TokenInput[] inputs, int maxLength, bool fixedLength)
    {
        ModelName = modelName; PropertyName = propertyName; Text = text; Tokenizer = tokenizer; Inputs = inputs; MaxLength = maxLength; FixedLength = fixedLength;
    }

    public string ModelName { get; }
    public string PropertyName { get; }
    public Func<TIn, string?> Text { get; }
    public TextTokenizer Tokenizer { get; }
    public TokenInput[] Inputs { get; }
    /// <summary>Tokens per row at most; with <see cref="FixedLength"/>, every row has exactly this many.</summary>
    public int MaxLength { get; }
    public bool FixedLength { get; }
    public bool HasBatchAxis => Inputs.All(i => i.HasBatchAxis);

    /// <summary>One model input the tokenizer fills.</summary>
    public sealed record TokenInput(string TensorName, TextInputRole Role, bool IsInt32, bool HasBatchAxis);

    /// <summary>
    /// The binding, or null when <paramref name="options"/> is null. <paramref name="mappedInputs"/> are the inputs
    /// properties already fill; the tokenizer fills the other token inputs.
    /// </summary>
    public static TextInputBinding<TIn>? Create(string modelName, InferenceSession session, ModelTokenizerOptions? options, IReadOnlyCollection<string> mappedInputs)
    {
        if (options is null) return null;
        TextTokenizer tokenizer;
        try { tokenizer = TextTokenizer.Load(options.TokenizerPath); }
        catch (TokenizerFileException e)
        {
            throw new ModelRuntimeException(RuntimeErrorCodes.TokenizerUnreadable,
                $"The tokenizer of model '{modelName}': {e.Message}",
                "Give the tokenizer file the model was trained with (vocab.txt, tokenizer.json, .model or .tiktoken) to WithTokenizer or ModelTokenizerOptions.", options.TokenizerPath, e);
        }

        var texts = MemberAccessors.MappableMembers(typeof(TIn), needSetter: false)
            .Where(m => !ColumnAttributeReader.IsExcluded(m) && MemberAccessors.MemberType(m) == typeof(string))
            .Where(m => !session.InputMetadata.ContainsKey(ColumnAttributeReader.ExplicitColumnName(m) ?? m.Name))
            .ToList();
        if (texts.Count != 1)
        {
            throw new ModelRuntimeException(RuntimeErrorCodes.NoTextProperty,
                texts.Count == 0
                    ? $"Model '{modelName}' has a tokenizer but '{typeof(TIn).Name}' has no string property for the text."
                    : $"Model '{modelName}' has a tokenizer and '{typeof(TIn).Name}' has {texts.Count} string properties ({string.Join(", ", texts.Select(t => t.Name))}); which one is the text is unclear.",
                $"Give '{typeof(TIn).Name}' exactly one string property (mark others [NoColumn]).", modelName);
        }

        var inputs = new List<TokenInput>();
        long? fixedLength = null;
        foreach (var (name, metadata) in session.InputMetadata)
        {
            if (mappedInputs.Contains(name)) continue;
            if (TextInputRoles.Of(name, session.InputMetadata.Count) is not { } role) continue;
            var dims = metadata.Dimensions;
            if (metadata.ElementDataType is not (TensorElementType.Int32 or TensorElementType.Int64) || dims.Length != 2)
            {
                throw new ModelRuntimeException(RuntimeErrorCodes.TokenInputUnfillable,
                    $"Model '{modelName}' input '{name}' is {metadata.ElementDataType} {TensorShapeResolver.Describe(dims)}; a tokenizer fills int32/int64 [batch, sequence] inputs.",
                    $"Map '{name}' with a property of '{typeof(TIn).Name}', or serve the model without a tokenizer.", modelName);
            }
            if (dims[1] > 0) fixedLength = dims[1];
            inputs.Add(new TokenInput(name, role, metadata.ElementDataType == TensorElementType.Int32, dims[0] <= 0));
        }
        if (!inputs.Any(i => i.Role == TextInputRole.InputIds))
        {
            throw new ModelRuntimeException(RuntimeErrorCodes.TokenInputUnfillable,
                $"Model '{modelName}' has a tokenizer but no input_ids input left for it (inputs: {string.Join(", ", session.InputMetadata.Keys)}).",
                "Serve the model without a tokenizer, or export it with an input_ids input.", modelName);
        }
        var max = (int)(fixedLength ?? options.MaxLength ?? 512);
        if (fixedLength is { } f && options.MaxLength is { } asked && asked != f)
        {
            throw new ModelRuntimeException(RuntimeErrorCodes.TokenInputUnfillable,
                $"Model '{modelName}' fixes its sequence length at {f} tokens but the tokenizer's MaxLength is {asked}.",
                "Leave MaxLength out for a model with a fixed sequence length.", modelName);
        }
        var property = texts[0];
        return new TextInputBinding<TIn>(modelName, property.Name, MemberAccessors.Getter<TIn, string?>(property), tokenizer, [.. inputs], max,
            fixedLength is not null || options.PadToMaxLength);
    }
}

/// <summary>
/// One context's token buffers for <see cref="TextInputBinding{TIn}"/>: pinned arrays of rows x MaxLength, bound
/// once when every row has the same length, else re-bound per call over the first rows x longest elements.
/// </summary>
internal sealed class TextInputBuffers<TIn> : IDisposable
{
    private readonly TextInputBinding<TIn> _binding;
    private readonly int _rows;
    private readonly Array[] _data;
    private readonly OrtValue?[] _values;
    private readonly int[][] _encoded;

    public TextInputBuffers(TextInputBinding<TIn> binding, int rows, OrtIoBinding ioBinding)
    {
        _binding = binding;
        _rows = rows;
        _encoded = new int[rows][];
        _data = new Array[binding.Inputs.Length];
        _values = new OrtValue?[binding.Inputs.Length];
        for (var i = 0; i < _data.Length; i++)
        {
            _data[i] = binding.Inputs[i].IsInt32 ? new int[rows * binding.MaxLength] : new long[rows * binding.MaxLength];
            if (binding.FixedLength)
            {
                _values[i] = Create(i, binding.MaxLength);
                ioBinding.BindInput(binding.Inputs[i].TensorName, _values[i]);
            }
        }
    }

    /// <summary>Tokenizes the text of row <paramref name="row"/>; <see cref="Fill"/> writes the rows once all are known.</summary>
    public void Encode(TIn input, int row) => _encoded[row] = _binding.Tokenizer.Encode(_binding.Text(input) ?? string.Empty, _binding.MaxLength);

    /// <summary>Writes the encoded rows, padded to the fixed length or to the longest row, and binds them when that changes.</summary>
    public void Fill(OrtIoBinding ioBinding)
    {
        var length = _binding.MaxLength;
        if (!_binding.FixedLength)
        {
            length = 1;
            foreach (var row in _encoded) length = Math.Max(length, row.Length);
        }
        for (var i = 0; i < _data.Length; i++)
        {
            var role = _binding.Inputs[i].Role;
            var pad = role == TextInputRole.InputIds ? _binding.Tokenizer.PaddingId : 0;
            if (_data[i] is long[] longs) Write(longs.AsSpan(0, _rows * length), role, pad, length);
            else Write(((int[])_data[i]).AsSpan(0, _rows * length), role, pad, length);
            if (!_binding.FixedLength)
            {
                _values[i]?.Dispose();
                _values[i] = Create(i, length);
                ioBinding.BindInput(_binding.Inputs[i].TensorName, _values[i]);
            }
        }
    }

    private void Write(Span<long> target, TextInputRole role, long pad, int length)
    {
        for (var r = 0; r < _rows; r++)
        {
            var ids = _encoded[r];
            var row = target.Slice(r * length, length);
            for (var t = 0; t < ids.Length; t++) row[t] = TextInputRoles.Value(role, ids[t]);
            row[ids.Length..].Fill(pad);
        }
    }

    private void Write(Span<int> target, TextInputRole role, int pad, int length)
    {
        for (var r = 0; r < _rows; r++)
        {
            var ids = _encoded[r];
            var row = target.Slice(r * length, length);
            for (var t = 0; t < ids.Length; t++) row[t] = (int)TextInputRoles.Value(role, ids[t]);
            row[ids.Length..].Fill(pad);
        }
    }

    private OrtValue Create(int input, int length)
    {
        long[] shape = _binding.Inputs[input].HasBatchAxis || _rows != 1 ? [_rows, length] : [1, length];
        return _data[input] is long[] longs
            ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, longs.AsMemory(0, _rows * length), shape)
            : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, ((int[])_data[input]).AsMemory(0, _rows * length), shape);
    }

    public void Dispose()
    {
        foreach (var value in _values) value?.Dispose();
    }
}
