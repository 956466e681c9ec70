using Google.Protobuf;
using ModelBuild.Onnx.Tensors;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Compression.Distillation.Import;

/// <summary>
/// Converts ONNX <see cref="TensorProto"/> values to TorchSharp tensors and back. Handles <c>raw_data</c> and the
/// typed fields (<c>float_data</c>, <c>int32_data</c> holding fp16/bool/int8/int16/uint8 bit patterns, ...), because
/// older exporters and the ONNX node tests use both.
/// </summary>
public static class TensorProtoConverter
{
    /// <summary>The torch element type for an ONNX data type, or null when torch has no equivalent.</summary>
    public static ScalarType? ToScalarType(int onnxType) => (DataType)onnxType switch
    {
        DataType.Float => ScalarType.Float32,
        DataType.Double => ScalarType.Float64,
        DataType.Float16 => ScalarType.Float16,
        DataType.Bfloat16 => ScalarType.BFloat16,
        DataType.Int8 => ScalarType.Int8,
        DataType.Uint8 => ScalarType.Byte,
        DataType.Int16 => ScalarType.Int16,
        DataType.Int32 => ScalarType.Int32,
        DataType.Int64 => ScalarType.Int64,
        DataType.Bool => ScalarType.Bool,
        _ => null,
    };

    public static DataType ToOnnxType(ScalarType type) => type switch
    {
        ScalarType.Float32 => DataType.Float,
        ScalarType.Float64 => DataType.Double,
        ScalarType.Float16 => DataType.Float16,
        ScalarType.BFloat16 => DataType.Bfloat16,
        ScalarType.Int8 => DataType.Int8,
        ScalarType.Byte => DataType.Uint8,
        ScalarType.Int16 => DataType.Int16,
        ScalarType.Int32 => DataType.Int32,
        ScalarType.Int64 => DataType.Int64,
        ScalarType.Bool => DataType.Bool,
        _ => throw new NotSupportedException($"torch element type {type} has no ONNX equivalent here."),
    };

    /// <summary>Element size in bytes of an ONNX data type that torch supports.</summary>
    static int ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };

    /// <summary>Reads a TensorProto into a new CPU tensor (its own memory, not aliasing the proto).</summary>
    public static Tensor ToTensor(TensorProto proto)
    {
        var type = ToScalarType(proto.DataType)
            ?? throw new NotSupportedException($"ONNX tensor '{proto.Name}' has data type {(DataType)proto.DataType}, which the TorchSharp importer does not support.");
        if (proto.DataLocation == TensorProto.Types.DataLocation.External)
            throw new NotSupportedException($"ONNX tensor '{proto.Name}' uses external data; load the model with its external data first.");
        long[] dims = proto.Dims.ToArray();
        long count = 1;
        foreach (var d in dims) count *= d;
        // raw_data or the typed fields, as the little-endian bytes torch holds; a length that does not match the shape is an error.
        byte[] bytes = TensorData.ToRawBytes(proto);
        var t = torch.empty(dims, type);
        if (count > 0) t.bytes = bytes.AsSpan(0, checked((int)(count * ElementSize(type))));
        return t;
    }

    /// <summary>Writes a tensor into a TensorProto as raw little-endian data.</summary>
    public static TensorProto ToProto(Tensor tensor, string name)
    {
        var proto = new TensorProto { Name = name, DataType = (int)ToOnnxType(tensor.dtype) };
        proto.Dims.AddRange(tensor.shape);
        SetRawData(proto, tensor);
        return proto;
    }

    /// <summary>Replaces the values of <paramref name="proto"/> (same shape) with <paramref name="tensor"/>'s, keeping name,
    /// data type and metadata; the values are converted to the proto's data type (e.g. float16 initializers stay float16).</summary>
    public static void OverwriteValues(TensorProto proto, Tensor tensor)
    {
        var type = ToScalarType(proto.DataType) ?? throw new NotSupportedException($"Cannot write initializer '{proto.Name}'.");
        using var converted = tensor.detach().to_type(type).cpu().contiguous();
        if (!converted.shape.SequenceEqual(proto.Dims))
            throw new InvalidOperationException($"Initializer '{proto.Name}' has shape [{string.Join(",", proto.Dims)}] but the trained tensor has [{string.Join(",", converted.shape)}].");
        proto.FloatData.Clear(); proto.DoubleData.Clear(); proto.Int32Data.Clear(); proto.Int64Data.Clear(); proto.Uint64Data.Clear();
        SetRawData(proto, converted);
    }

    static void SetRawData(TensorProto proto, Tensor tensor)
    {
        using var c = tensor.detach().cpu().contiguous();
        proto.RawData = c.numel() == 0 ? ByteString.Empty : ByteString.CopyFrom(c.bytes);
    }
}
