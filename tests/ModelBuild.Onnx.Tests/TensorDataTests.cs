using System.Runtime.InteropServices;
using Google.Protobuf;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.Tensors;
using ModelBuild.Onnx.Tests.Infrastructure;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Onnx.Tests;

public sealed class TensorDataTests
{
    private static void RoundTrip<T>(T[] values, DataType expectedType) where T : unmanaged, IEquatable<T>
    {
        var tensor = TensorData.Create("t", values, 2, values.Length / 2);
        Assert.Equal((int)expectedType, tensor.DataType);
        Assert.Equal(values.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>(), tensor.RawData.Length);
        var back = TensorData.ToArray<T>(TensorProto.Parser.ParseFrom(tensor.ToByteArray()));
        Assert.Equal(values, back);
        Assert.Equal(MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), TensorData.ToRawBytes(tensor));
    }

    [Fact]
    public void Every_numeric_type_round_trips_through_raw_data()
    {
        RoundTrip(new[] { 1.5f, -2f, float.NaN, float.PositiveInfinity }, DataType.Float);
        RoundTrip(new[] { 1.5, -2.0, double.Epsilon, 1e300 }, DataType.Double);
        RoundTrip(new[] { (Half)1.5f, (Half)(-2f), Half.MaxValue, Half.Epsilon }, DataType.Float16);
        RoundTrip(new[] { (BFloat16)1.5f, (BFloat16)(-2f), (BFloat16)3e38f, (BFloat16)1e-30f }, DataType.Bfloat16);
        RoundTrip(new sbyte[] { -128, 127, 0, 1 }, DataType.Int8);
        RoundTrip(new short[] { short.MinValue, short.MaxValue, 0, -1 }, DataType.Int16);
        RoundTrip(new[] { int.MinValue, int.MaxValue, 0, -1 }, DataType.Int32);
        RoundTrip(new[] { long.MinValue, long.MaxValue, 0, -1 }, DataType.Int64);
        RoundTrip(new byte[] { 0, 255, 7, 8 }, DataType.Uint8);
        RoundTrip(new ushort[] { 0, 65535, 7, 8 }, DataType.Uint16);
        RoundTrip(new uint[] { 0, uint.MaxValue, 7, 8 }, DataType.Uint32);
        RoundTrip(new ulong[] { 0, ulong.MaxValue, 7, 8 }, DataType.Uint64);
        RoundTrip(new[] { true, false, false, true }, DataType.Bool);
    }

    [Fact]
    public void Typed_fields_read_the_same_as_raw_data()
    {
        static TensorProto Typed(DataType type, Action<TensorProto> fill, params long[] dims)
        {
            var t = new TensorProto { Name = "typed", DataType = (int)type };
            t.Dims.AddRange(dims);
            fill(t);
            return t;
        }
        Assert.Equal(new[] { 1f, -2f, 3.5f }, TensorData.ToArray<float>(Typed(DataType.Float, t => t.FloatData.AddRange(new[] { 1f, -2f, 3.5f }), 3)));
        Assert.Equal(new[] { 1.0, -2.0 }, TensorData.ToArray<double>(Typed(DataType.Double, t => t.DoubleData.AddRange(new[] { 1.0, -2.0 }), 2)));
        Assert.Equal(new[] { 5, -7 }, TensorData.ToArray<int>(Typed(DataType.Int32, t => t.Int32Data.AddRange(new[] { 5, -7 }), 2)));
        Assert.Equal(new sbyte[] { -128, 127 }, TensorData.ToArray<sbyte>(Typed(DataType.Int8, t => t.Int32Data.AddRange(new[] { -128, 127 }), 2)));
        Assert.Equal(new short[] { -300, 300 }, TensorData.ToArray<short>(Typed(DataType.Int16, t => t.Int32Data.AddRange(new[] { -300, 300 }), 2)));
        Assert.Equal(new byte[] { 0, 255 }, TensorData.ToArray<byte>(Typed(DataType.Uint8, t => t.Int32Data.AddRange(new[] { 0, 255 }), 2)));
        Assert.Equal(new ushort[] { 0, 65535 }, TensorData.ToArray<ushort>(Typed(DataType.Uint16, t => t.Int32Data.AddRange(new[] { 0, 65535 }), 2)));
        Assert.Equal(new[] { true, false }, TensorData.ToArray<bool>(Typed(DataType.Bool, t => t.Int32Data.AddRange(new[] { 1, 0 }), 2)));
        Assert.Equal(new[] { (Half)1.5f, (Half)(-2f) }, TensorData.ToArray<Half>(Typed(DataType.Float16,
            t => t.Int32Data.AddRange(new[] { (int)BitConverter.HalfToUInt16Bits((Half)1.5f), BitConverter.HalfToUInt16Bits((Half)(-2f)) }), 2)));
        Assert.Equal(new[] { (BFloat16)1.5f, (BFloat16)(-2f) }, TensorData.ToArray<BFloat16>(Typed(DataType.Bfloat16,
            t => t.Int32Data.AddRange(new[] { (int)((BFloat16)1.5f).Bits, ((BFloat16)(-2f)).Bits }), 2)));
        Assert.Equal(new[] { 1L << 40, -1L }, TensorData.ToArray<long>(Typed(DataType.Int64, t => t.Int64Data.AddRange(new[] { 1L << 40, -1L }), 2)));
        Assert.Equal(new uint[] { uint.MaxValue, 1 }, TensorData.ToArray<uint>(Typed(DataType.Uint32, t => t.Uint64Data.AddRange(new ulong[] { uint.MaxValue, 1 }), 2)));
        Assert.Equal(new ulong[] { ulong.MaxValue, 1 }, TensorData.ToArray<ulong>(Typed(DataType.Uint64, t => t.Uint64Data.AddRange(new[] { ulong.MaxValue, 1UL }), 2)));
        Assert.Equal(new[] { "a", "ü" }, TensorData.ToStringArray(TensorData.CreateStrings("s", new[] { "a", "ü" }, 2)));
    }

    [Fact]
    public void Every_node_test_tensor_file_reads_consistently()
    {
        // All input/output .pb files of the node tests (raw_data and typed fields, every element type they use):
        // the typed read and the raw-bytes read must agree, and the byte count must match type and dims.
        int checkedFiles = 0;
        var types = new HashSet<string>();
        foreach (var file in Directory.EnumerateFiles(SharedMaterials.NodeTests, "*.pb", SearchOption.AllDirectories))
        {
            if (file.Contains("test_identity_sequence") || file.Contains("test_identity_opt"))
            {
                continue; // their data files are SequenceProto/OptionalProto, not TensorProto
            }
            var tensor = TensorProto.Parser.ParseFrom(File.ReadAllBytes(file));
            types.Add(TensorElementTypes.Name(tensor.DataType));
            if (tensor.DataType == (int)DataType.String)
            {
                Assert.Equal(TensorData.ElementCount(tensor), TensorData.ToStringArray(tensor).Length);
                checkedFiles++;
                continue;
            }
            byte[] raw = TensorData.ToRawBytes(tensor);
            Assert.Equal(TensorData.ByteCount(tensor), raw.LongLength);
            var typed = TypedAsBytes(tensor);
            if (typed is not null)
            {
                Assert.Equal(raw, typed);
            }
            checkedFiles++;
        }
        Assert.True(checkedFiles > 1000, $"only {checkedFiles} tensor files");
        Assert.Contains("float16", types);
        Assert.Contains("bool", types);
        Assert.Contains("int8", types);
    }

    private static byte[]? TypedAsBytes(TensorProto t) => (DataType)t.DataType switch
    {
        DataType.Float => Bytes(TensorData.ToArray<float>(t)),
        DataType.Double => Bytes(TensorData.ToArray<double>(t)),
        DataType.Float16 => Bytes(TensorData.ToArray<Half>(t)),
        DataType.Bfloat16 => Bytes(TensorData.ToArray<BFloat16>(t)),
        DataType.Int8 => Bytes(TensorData.ToArray<sbyte>(t)),
        DataType.Int16 => Bytes(TensorData.ToArray<short>(t)),
        DataType.Int32 => Bytes(TensorData.ToArray<int>(t)),
        DataType.Int64 => Bytes(TensorData.ToArray<long>(t)),
        DataType.Uint8 => Bytes(TensorData.ToArray<byte>(t)),
        DataType.Uint16 => Bytes(TensorData.ToArray<ushort>(t)),
        DataType.Uint32 => Bytes(TensorData.ToArray<uint>(t)),
        DataType.Uint64 => Bytes(TensorData.ToArray<ulong>(t)),
        DataType.Bool => Bytes(TensorData.ToArray<bool>(t)),
        _ => null,
    };

    private static byte[] Bytes<T>(T[] a) where T : unmanaged => MemoryMarshal.AsBytes(a.AsSpan()).ToArray();

    [Fact]
    public void Spans_view_raw_data_without_copying()
    {
        var model = OnnxModel.Load(Path.Combine(SharedMaterials.Teachers, "wine-mlp", "teacher.onnx"));
        var weight = model.GraphProto.Initializer.First(t => t.Dims.Count == 2);
        Assert.True(TensorData.TryGetSpan<float>(weight, out var span));
        Assert.Equal(TensorData.ToArray<float>(weight), span.ToArray());
        Assert.False(TensorData.TryGetSpan<double>(weight, out _));
        var typed = new TensorProto { Name = "typed", DataType = (int)DataType.Float };
        typed.Dims.Add(1);
        typed.FloatData.Add(1f);
        Assert.False(TensorData.TryGetSpan<float>(typed, out _));
    }

    [Fact]
    public void Conversions_to_float_double_and_int64()
    {
        var t = TensorData.Create("h", new[] { (Half)0.5f, (Half)(-3f) }, 2);
        Assert.Equal(new[] { 0.5f, -3f }, TensorData.ToSingleArray(t));
        Assert.Equal(new[] { 0.5, -3.0 }, TensorData.ToDoubleArray(t));
        Assert.Equal(new[] { 3L, -4L }, TensorData.ToInt64Array(TensorData.Create("i", new[] { 3, -4 }, 2)));
        Assert.Equal(new[] { 7L }, TensorData.ToInt64Array(TensorData.CreateScalar("s", (byte)7)));
        Assert.Empty(TensorData.CreateScalar("s", 1f).Dims);
    }

    [Fact]
    public void BFloat16_rounds_to_nearest_even_and_keeps_nan()
    {
        Assert.Equal(0x3F80, ((BFloat16)1f).Bits);
        // 1 + 2^-8 is exactly half way between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        Assert.Equal(0x3F80, ((BFloat16)(1f + 1f / 256)).Bits);
        // 1 + 3*2^-8 is half way between 1+2^-7 (odd) and 1+2^-6 (even): rounds up to even.
        Assert.Equal(0x3F82, ((BFloat16)(1f + 3f / 256)).Bits);
        Assert.True(float.IsNaN(((BFloat16)float.NaN).ToSingle()));
        Assert.Equal(float.PositiveInfinity, ((BFloat16)float.PositiveInfinity).ToSingle());
        Assert.Equal(-2.5f, ((BFloat16)(-2.5f)).ToSingle());
    }

    [Fact]
    public void Wrong_type_is_MB0021_and_wrong_length_is_MB0020()
    {
        var t = TensorData.Create("w", new[] { 1f, 2f }, 2);
        Assert.Equal("MB0021", Assert.Throws<ModelBuildException>(() => TensorData.ToArray<double>(t)).Code);
        t.Dims[0] = 3;
        Assert.Equal("MB0020", Assert.Throws<ModelBuildException>(() => TensorData.ToArray<float>(t)).Code);
        var typed = new TensorProto { Name = "x", DataType = (int)DataType.Float };
        typed.Dims.Add(4);
        typed.FloatData.Add(1f);
        Assert.Equal("MB0020", Assert.Throws<ModelBuildException>(() => TensorData.ToArray<float>(typed)).Code);
    }

    [Fact]
    public void Convert_to_raw_data_keeps_values()
    {
        var t = new TensorProto { Name = "f", DataType = (int)DataType.Float16 };
        t.Dims.Add(2);
        t.Int32Data.AddRange(new[] { (int)BitConverter.HalfToUInt16Bits((Half)2f), BitConverter.HalfToUInt16Bits((Half)0.25f) });
        TensorData.ConvertToRawData(t);
        Assert.Empty(t.Int32Data);
        Assert.Equal(4, t.RawData.Length);
        Assert.Equal(new[] { (Half)2f, (Half)0.25f }, TensorData.ToArray<Half>(t));
    }
}
