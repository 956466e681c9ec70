using System.Globalization;
using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Onnx.ExternalData;

/// <summary>The <c>external_data</c> key/value entries of a tensor stored outside the model file.</summary>
public sealed record ExternalDataInfo(string Location, long Offset, long? Length, string? Checksum)
{
    public static bool IsExternal(TensorProto tensor) =>
        tensor.DataLocation == TensorProto.Types.DataLocation.External;

    /// <summary>Parses the entries; <paramref name="modelPath"/> only names the model in errors (MB0014).</summary>
    public static ExternalDataInfo Parse(TensorProto tensor, string modelPath)
    {
        string? location = null, checksum = null;
        long offset = 0;
        long? length = null;
        foreach (var entry in tensor.ExternalData)
        {
            switch (entry.Key)
            {
                case "location":
                    location = entry.Value;
                    break;
                case "offset":
                    offset = ParseNonNegative(entry.Value, "offset", tensor, modelPath);
                    break;
                case "length":
                    length = ParseNonNegative(entry.Value, "length", tensor, modelPath);
                    break;
                case "checksum":
                    checksum = entry.Value;
                    break;
            }
        }
        if (string.IsNullOrEmpty(location))
        {
            throw OnnxErrors.ExternalMalformed(modelPath, tensor.Name, "it is marked EXTERNAL but has no 'location' entry");
        }
        return new ExternalDataInfo(location, offset, length, checksum);
    }

    /// <summary>Writes the entries onto a tensor and marks it external (clears any inline data).</summary>
    public void ApplyTo(TensorProto tensor)
    {
        tensor.ClearInlineData();
        tensor.ExternalData.Clear();
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = Location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = Offset.ToString(CultureInfo.InvariantCulture) });
        if (Length is { } length)
        {
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(CultureInfo.InvariantCulture) });
        }
        if (Checksum is not null)
        {
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "checksum", Value = Checksum });
        }
        tensor.DataLocation = TensorProto.Types.DataLocation.External;
    }

    private static long ParseNonNegative(string text, string key, TensorProto tensor, string modelPath)
    {
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            throw OnnxErrors.ExternalMalformed(modelPath, tensor.Name, $"'{key}' is '{text}', not a non-negative integer");
        }
        return value;
    }
}

internal static class TensorProtoDataExtensions
{
    /// <summary>Removes raw_data and every typed data field.</summary>
    public static void ClearInlineData(this TensorProto tensor)
    {
        tensor.RawData = Google.Protobuf.ByteString.Empty;
        tensor.FloatData.Clear();
        tensor.Int32Data.Clear();
        tensor.StringData.Clear();
        tensor.Int64Data.Clear();
        tensor.DoubleData.Clear();
        tensor.Uint64Data.Clear();
    }
}
