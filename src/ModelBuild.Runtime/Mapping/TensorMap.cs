using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelBuild.Runtime.Mapping;

/// <summary>
/// The binding of <typeparamref name="TIn"/>/<typeparamref name="TOut"/> properties to one model's tensors, checked
/// once at load: every mismatch is an MB07xx error naming property, tensor, expected and actual.
/// </summary>
internal sealed class TensorMap<TIn, TOut>
{
    private TensorMap(InputColumn<TIn>[] inputs, OutputColumn<TOut>[] outputs, TextInputBinding<TIn>? text)
    {
        Inputs = inputs;
        Outputs = outputs;
        Text = text;
        OutputsPreallocated = outputs.All(o => o.CanPreallocate);
        SupportsBatch = inputs.All(i => i.HasBatchAxis) && outputs.All(o => o.HasBatchAxis) && (text?.HasBatchAxis ?? true);
    }

    public InputColumn<TIn>[] Inputs { get; }
    /// <summary>The text property and the token inputs a tokenizer fills, when the model has one.</summary>
    public TextInputBinding<TIn>? Text { get; }
    public OutputColumn<TOut>[] Outputs { get; }
    /// <summary>True when every output has a known shape, so outputs go into buffers allocated once per context.</summary>
    public bool OutputsPreallocated { get; }
    public bool SupportsBatch { get; }

    public static TensorMap<TIn, TOut> Build(string modelName, InferenceSession session, ModelTokenizerOptions? tokenizer = null)
    {
        var inputs = new List<InputColumn<TIn>>();
        foreach (var property in MemberAccessors.MappableMembers(typeof(TIn), needSetter: false).Where(m => !ColumnAttributeReader.IsExcluded(m)))
        {
            string? explicitName = ColumnAttributeReader.ExplicitColumnName(property);
            string tensor = explicitName ?? property.Name;
            if (!session.InputMetadata.TryGetValue(tensor, out var metadata))
            {
                if (explicitName is null)
                {
                    continue; // Like ML.NET, an unattributed input property the model does not use is ignored.
                }
                throw UnknownColumn(modelName, typeof(TIn), property, tensor, "input", session.InputMetadata.Keys);
            }
            inputs.Add(CreateInput(modelName, property, tensor, metadata));
        }

        var text = TextInputBinding<TIn>.Create(modelName, session, tokenizer, inputs.Select(i => i.TensorName).ToList());
        var missing = session.InputMetadata.Keys.Where(k => inputs.All(c => c.TensorName != k) && (text is null || text.Inputs.All(t => t.TensorName != k))).ToList();
        if (missing.Count > 0)
        {
            var name = missing[0];
            // Unattributed properties whose name is no tensor are skipped (as ML.NET does); name them, since one of them
            // is usually the property meant for this tensor.
            var ignored = MemberAccessors.MappableMembers(typeof(TIn), needSetter: false)
                .Where(m => !ColumnAttributeReader.IsExcluded(m) && ColumnAttributeReader.ExplicitColumnName(m) is null && !session.InputMetadata.ContainsKey(m.Name))
                .Select(m => m.Name).ToList();
            // A string property and token-id inputs: the text path (WithTokenizer) is what the user most likely wants.
            var hasText = MemberAccessors.MappableMembers(typeof(TIn), needSetter: false).Any(m => MemberAccessors.MemberType(m) == typeof(string));
            throw new ModelRuntimeException(RuntimeErrorCodes.MissingInput,
                $"Model '{modelName}' needs input tensor '{name}' {TensorShapeResolver.Describe(session.InputMetadata[name].Dimensions)} but no property of '{typeof(TIn).Name}' maps to it (mapped: {string.Join(", ", inputs.Select(i => $"{i.PropertyName}->{i.TensorName}"))}{(ignored.Count > 0 ? $"; ignored, their names are no input: {string.Join(", ", ignored)}" : "")}).",
                hasText && name is "input_ids" or "attention_mask" or "token_type_ids"
                    ? $"Configure the model's tokenizer (.FromFile(...).WithTokenizer(\"vocab.txt\")) so the string property fills '{name}', or add a property with [ColumnName(\"{name}\")] to '{typeof(TIn).Name}'."
                    : $"Add a property with [ColumnName(\"{name}\")] to '{typeof(TIn).Name}'{(ignored.Count > 0 ? $" (or rename one of the ignored properties to '{name}')" : "")}.", modelName);
        }

        var outputs = new List<OutputColumn<TOut>>();
        foreach (var property in MemberAccessors.MappableMembers(typeof(TOut), needSetter: true).Where(m => !ColumnAttributeReader.IsExcluded(m)))
        {
            string tensor = ColumnAttributeReader.ExplicitColumnName(property) ?? property.Name;
            if (!session.OutputMetadata.TryGetValue(tensor, out var metadata))
            {
                throw UnknownColumn(modelName, typeof(TOut), property, tensor, "output", session.OutputMetadata.Keys);
            }
            outputs.Add(CreateOutput(modelName, property, tensor, metadata));
        }
        return new TensorMap<TIn, TOut>([.. inputs], [.. outputs], text);
    }

    private static InputColumn<TIn> CreateInput(string modelName, MemberInfo property, string tensor, NodeMetadata metadata)
    {
        var (element, rowDims, hasBatch) = Describe(modelName, typeof(TIn), property, tensor, metadata, allowUnknown: false);
        var columnType = element == typeof(string)
            ? typeof(StringInputColumn<>).MakeGenericType(typeof(TIn))
            : typeof(NumericInputColumn<,>).MakeGenericType(typeof(TIn), element);
        return (InputColumn<TIn>)Activator.CreateInstance(columnType, modelName, property, tensor, rowDims!, hasBatch)!;
    }

    private static OutputColumn<TOut> CreateOutput(string modelName, MemberInfo property, string tensor, NodeMetadata metadata)
    {
        var (element, rowDims, hasBatch) = Describe(modelName, typeof(TOut), property, tensor, metadata, allowUnknown: true);
        var columnType = element == typeof(string)
            ? typeof(StringOutputColumn<>).MakeGenericType(typeof(TOut))
            : typeof(NumericOutputColumn<,>).MakeGenericType(typeof(TOut), element);
        return (OutputColumn<TOut>)Activator.CreateInstance(columnType, property, tensor, rowDims, hasBatch)!;
    }

    /// <summary>What an input or output property binds to: the checked element type and the per-row dims (and whether the tensor has a batch axis).</summary>
    private static (Type Element, int[]? RowDims, bool HasBatch) Describe(string modelName, Type owner, MemberInfo property, string tensor, NodeMetadata metadata, bool allowUnknown)
    {
        var element = CheckElementType(modelName, owner, property, tensor, metadata);
        var (rowDims, hasBatch) = TensorShapeResolver.Resolve(modelName, owner.Name, property.Name, tensor, metadata,
            MemberAccessors.MemberType(property).IsArray, ColumnAttributeReader.VectorDimensions(property), allowUnknown);
        return (element, rowDims, hasBatch);
    }

    private static Type CheckElementType(string modelName, Type owner, MemberInfo property, string tensor, NodeMetadata metadata)
    {
        var type = MemberAccessors.MemberType(property);
        var element = type.IsArray && type.GetArrayRank() == 1 ? type.GetElementType()! : type;
        var expected = metadata.IsTensor ? metadata.ElementDataType : TensorElementType.DataTypeMax;
        if (!metadata.IsTensor)
        {
            throw new ModelRuntimeException(RuntimeErrorCodes.UnsupportedPropertyType,
                $"Property '{owner.Name}.{property.Name}' maps to '{tensor}' of model '{modelName}', which is a {metadata.OnnxValueType}, not a tensor.",
                "Map only tensor inputs/outputs; sequences and maps are not supported.", modelName);
        }
        var actual = TensorShapeResolver.ElementTypeOf(element);
        if (actual == TensorElementType.DataTypeMax || (type.IsArray && type.GetArrayRank() != 1))
        {
            throw new ModelRuntimeException(RuntimeErrorCodes.UnsupportedPropertyType,
                $"Property '{owner.Name}.{property.Name}' ({type.Name}) maps to tensor '{tensor}' of model '{modelName}' but its type is not supported.",
                $"Use {ClrName(expected)} or {ClrName(expected)}[] (one-dimensional; give the shape with [VectorType(d1, d2, ...)]).", modelName);
        }
        if (actual != expected)
        {
            throw new ModelRuntimeException(RuntimeErrorCodes.ElementTypeMismatch,
                $"Property '{owner.Name}.{property.Name}' maps to tensor '{tensor}' of model '{modelName}': expected element type {expected} ({ClrName(expected)}), actual {actual} ({element.Name}).",
                $"Declare '{property.Name}' as {ClrName(expected)}{(type.IsArray ? "[]" : string.Empty)}.", modelName);
        }
        return element;
    }

    private static string ClrName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float",
        TensorElementType.Double => "double",
        TensorElementType.Int32 => "int",
        TensorElementType.Int64 => "long",
        TensorElementType.Bool => "bool",
        TensorElementType.String => "string",
        _ => $"an unsupported type ({type})",
    };

    private static ModelRuntimeException UnknownColumn(string modelName, Type owner, MemberInfo property, string tensor, string kind, IEnumerable<string> available) =>
        new(RuntimeErrorCodes.UnknownColumn,
            $"Property '{owner.Name}.{property.Name}' maps to {kind} tensor '{tensor}', which model '{modelName}' does not have (its {kind}s: {string.Join(", ", available)}).",
            $"Set [ColumnName(\"...\")] on '{property.Name}' to one of the model's {kind} names, or mark it [NoColumn].", modelName);
}
