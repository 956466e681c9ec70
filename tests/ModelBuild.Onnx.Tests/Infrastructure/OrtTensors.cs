using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Onnx.Tests.Infrastructure;

/// <summary>TensorProto &lt;-&gt; OrtValue for every fixed-size element type and strings (raw bytes both ways).</summary>
public static class OrtTensors
{
    public static OrtValue ToOrtValue(TensorProto tensor, long[]? shapeOverride = null)
    {
        long[] shape = shapeOverride ?? tensor.Dims.ToArray();
        if (tensor.DataType == (int)TensorProto.Types.DataType.String)
        {
            var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
            var strings = TensorData.ToByteStrings(tensor);
            for (int i = 0; i < strings.Length; i++)
            {
                value.StringTensorSetElementAt(strings[i].AsSpan(), i);
            }
            return value;
        }
        byte[] bytes = TensorData.ToRawBytes(tensor);
        var result = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, (TensorElementType)tensor.DataType, shape);
        bytes.CopyTo(result.GetTensorMutableRawData());
        return result;
    }

    /// <summary>A comparable fingerprint of an output: type, shape and exact bytes (or strings).</summary>
    public static string Describe(OrtValue value)
    {
        switch (value.OnnxType)
        {
            case OnnxValueType.ONNX_TYPE_TENSOR:
            {
                var info = value.GetTensorTypeAndShape();
                string head = $"{info.ElementDataType}[{string.Join(",", info.Shape)}]";
                if (info.ElementDataType == TensorElementType.String)
                {
                    return head + string.Join("\u0001", value.GetStringTensorAsArray());
                }
                return head + Convert.ToHexString(value.GetTensorMutableRawData());
            }
            case OnnxValueType.ONNX_TYPE_SEQUENCE:
            {
                int count = value.GetValueCount();
                var parts = new List<string>();
                for (int i = 0; i < count; i++)
                {
                    using var element = value.GetValue(i, OrtAllocator.DefaultInstance);
                    parts.Add(Describe(element));
                }
                return "seq(" + string.Join(";", parts) + ")";
            }
            default:
                return value.OnnxType.ToString();
        }
    }

    public static long[] Shape(OrtValue value) => value.GetTensorTypeAndShape().Shape;
}
