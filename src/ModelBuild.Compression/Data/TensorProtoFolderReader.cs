using Google.Protobuf;
using ModelBuild.Onnx.Tensors;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Compression.Data;

/// <summary>
/// A folder of serialized ONNX TensorProto files, one sample (or a batch along axis 0) per file, stacked along axis 0:
/// either ONNX's test layout (<c>test_data_set_*/input_0.pb</c>, sets in numeric order) or <c>.pb</c> files directly
/// in the folder (natural order; <c>output_*.pb</c> are expected outputs and left out). Decoding goes through the ONNX
/// layer (<see cref="TensorData"/>), so raw_data, the typed fields and every numeric element type are read.
/// Float types become float32, integer and bool types int64. No labels: give them with the labels option.
/// </summary>
public static class TensorProtoFolderReader
{
    /// <summary>True when the folder has <c>test_data_set_*</c> subfolders or <c>.pb</c> files.</summary>
    public static bool LooksLikeTensorFolder(string folder) =>
        Directory.GetDirectories(folder, "test_data_set_*").Length > 0 || Directory.GetFiles(folder, "*.pb").Length > 0;

    public static IReadOnlyList<string> List(string folder)
    {
        var sets = Directory.GetDirectories(folder, "test_data_set_*");
        if (sets.Length > 0)
        {
            return sets.OrderBy(s => NaturalKey(Path.GetFileName(s)), StringComparer.Ordinal)
                .Select(s => Path.Combine(s, "input_0.pb"))
                .Select(p => File.Exists(p) ? p : throw DataErrors.TensorProto(p, "the test data set has no input_0.pb"))
                .ToList();
        }
        return Directory.GetFiles(folder, "*.pb")
            .Where(p => !Path.GetFileName(p).StartsWith("output_", StringComparison.OrdinalIgnoreCase))
            .OrderBy(p => NaturalKey(Path.GetFileName(p)), StringComparer.Ordinal).ToList();
    }

    public static DataTensor Read(string folder, ModelInputSignature? input)
    {
        if (!Directory.Exists(folder)) throw DataErrors.Missing(folder);
        var files = List(folder);
        if (files.Count == 0) throw DataErrors.Empty(folder, "no test_data_set_*/input_0.pb and no .pb files other than output_*.pb");
        long[]? sampleShape = null;
        bool? isFloat = null;
        var floats = new List<float>();
        var ints = new List<long>();
        long count = 0;
        foreach (var file in files)
        {
            var tensor = Parse(file);
            var shape = TensorData.Shape(tensor);
            var (rows, perSample) = Split(file, shape, TensorData.ElementCount(tensor), input);
            var fileIsFloat = TensorElementTypes.IsFloatingPoint(tensor.DataType);
            if (sampleShape is null) { sampleShape = perSample; isFloat = fileIsFloat; }
            else if (!sampleShape.SequenceEqual(perSample) || isFloat != fileIsFloat)
                throw DataErrors.TensorProto(file, $"it holds {(fileIsFloat ? "float" : "integer")} samples of shape [{string.Join(",", perSample)}] but '{files[0]}' holds {(isFloat == true ? "float" : "integer")} samples of shape [{string.Join(",", sampleShape)}]");
            if (fileIsFloat) floats.AddRange(ToFloats(file, tensor)); else ints.AddRange(ToInt64s(file, tensor));
            count += rows;
        }
        long[] fullShape = [count, .. sampleShape!];
        return new DataTensor(folder, fullShape, isFloat == true ? floats.ToArray() : null, isFloat == true ? null : ints.ToArray(), "tensorproto");
    }

    static TensorProto Parse(string file)
    {
        try { return TensorProto.Parser.ParseFrom(File.ReadAllBytes(file)); }
        catch (InvalidProtocolBufferException e) { throw DataErrors.TensorProto(file, "it is not a serialized TensorProto (" + e.Message + ")", e); }
    }

    /// <summary>
    /// Samples in a file and the shape of one. With the model known: the model's rank means a batch, one less a single
    /// sample, and any other shape with exactly one sample's elements a single sample in the model's layout (the
    /// super-resolution test data stores [224,224] for a [1,1,224,224] input). Without: axis 0 is the batch.
    /// </summary>
    static (long Rows, long[] SampleShape) Split(string file, long[] shape, long elements, ModelInputSignature? input)
    {
        if (input is null) return shape.Length == 0 ? (1, []) : (shape[0], shape[1..]);
        var rank = input.Dimensions.Length;
        if (shape.Length == rank && rank > 0) return (shape[0], shape[1..]);
        if (shape.Length == rank - 1) return (1, shape);
        if (input.FixedSampleSize is { } size && size == elements) return (1, input.Dimensions[1..]);
        throw DataErrors.TensorProto(file, $"its shape [{string.Join(",", shape)}] fits neither a batch nor one sample of the model input '{input.Name}' [{string.Join(",", input.Dimensions.Select(d => d <= 0 ? "?" : d.ToString()))}]");
    }

    static float[] ToFloats(string file, TensorProto t) => (DataType)t.DataType switch
    {
        DataType.Float => TensorData.ToArray<float>(t),
        DataType.Double => Array.ConvertAll(TensorData.ToArray<double>(t), v => (float)v),
        DataType.Float16 => Array.ConvertAll(TensorData.ToArray<Half>(t), v => (float)v),
        DataType.Bfloat16 => Array.ConvertAll(TensorData.ToArray<BFloat16>(t), v => (float)v),
        _ => throw DataErrors.TensorProto(file, $"element type {TensorElementTypes.Name(t.DataType)} is not read"),
    };

    static long[] ToInt64s(string file, TensorProto t) => (DataType)t.DataType switch
    {
        DataType.Int64 => TensorData.ToArray<long>(t),
        DataType.Int32 => Array.ConvertAll(TensorData.ToArray<int>(t), v => (long)v),
        DataType.Int16 => Array.ConvertAll(TensorData.ToArray<short>(t), v => (long)v),
        DataType.Int8 => Array.ConvertAll(TensorData.ToArray<sbyte>(t), v => (long)v),
        DataType.Uint8 => Array.ConvertAll(TensorData.ToArray<byte>(t), v => (long)v),
        DataType.Uint16 => Array.ConvertAll(TensorData.ToArray<ushort>(t), v => (long)v),
        DataType.Uint32 => Array.ConvertAll(TensorData.ToArray<uint>(t), v => (long)v),
        DataType.Bool => Array.ConvertAll(TensorData.ToArray<bool>(t), v => v ? 1L : 0L),
        _ => throw DataErrors.TensorProto(file, $"element type {TensorElementTypes.Name(t.DataType)} is not read"),
    };

    /// <summary>Digit runs padded so that test_data_set_10 sorts after test_data_set_9.</summary>
    static string NaturalKey(string name) => System.Text.RegularExpressions.Regex.Replace(name, @"\d+", m => m.Value.PadLeft(20, '0'));
}
