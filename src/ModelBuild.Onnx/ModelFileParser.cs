using Google.Protobuf;
using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Onnx;

/// <summary>
/// Parses ModelProto bytes and tells apart the ways a file can fail: empty (MB0002), another format
/// (MB0003), cut short (MB0004) or damaged protobuf (MB0005). Protobuf has no magic number, so "is this
/// ONNX at all" is judged from the first field: every ONNX writer starts with a ModelProto field.
/// </summary>
internal static class ModelFileParser
{
    // ModelProto field number -> wire type (0 varint, 2 length-delimited), from onnx.proto.
    private static readonly Dictionary<int, int> ModelFields = new()
    {
        [1] = 0, [2] = 2, [3] = 2, [4] = 2, [5] = 0, [6] = 2, [7] = 2, [8] = 2, [14] = 2, [20] = 2, [25] = 2, [26] = 2,
    };

    public static ModelProto Parse(ReadOnlySpan<byte> bytes, string path)
    {
        if (bytes.Length == 0)
        {
            throw OnnxErrors.ModelFileEmpty(path);
        }
        if (LooksLikeText(bytes))
        {
            throw OnnxErrors.NotAnOnnxModel(path, bytes.StartsWith("version https://git-lfs"u8)
                ? "it is a Git LFS pointer, not the model itself (run 'git lfs pull')"
                : "it is a text file");
        }
        if (!StartsWithModelField(bytes, out string why))
        {
            throw OnnxErrors.NotAnOnnxModel(path, why);
        }
        ModelProto proto;
        try
        {
            proto = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e) when (IsTruncation(e))
        {
            throw OnnxErrors.ModelTruncated(path, $"the protobuf data ends in the middle of a field after {bytes.Length} bytes", e);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw OnnxErrors.ModelCorrupt(path, e.Message.TrimEnd('.'), e);
        }
        if (proto.Graph is null)
        {
            if (proto.IrVersion == 0)
            {
                throw OnnxErrors.NotAnOnnxModel(path, "it parses as protobuf but holds neither an IR version nor a graph");
            }
            throw OnnxErrors.ModelTruncated(path, "it ends before the graph (no graph found)");
        }
        if (proto.IrVersion >= 3 && proto.OpsetImport.Count == 0)
        {
            throw OnnxErrors.ModelTruncated(path, "it ends before the opset imports (IR version 3+ requires them)");
        }
        return proto;
    }

    /// <summary>
    /// Real ONNX files start with binary tags and small varints (e.g. 08 07 for ir_version 7); a start of only
    /// printable ASCII is a text file (JSON, CSV, a script, an LFS pointer) even when its first letter
    /// happens to form a valid tag.
    /// </summary>
    private static bool LooksLikeText(ReadOnlySpan<byte> bytes)
    {
        var head = bytes[..Math.Min(bytes.Length, 256)];
        foreach (byte b in head)
        {
            if (b is not ((>= 0x20 and < 0x7F) or (byte)'\n' or (byte)'\r' or (byte)'\t'))
            {
                return false;
            }
        }
        return head.Length >= 8;
    }

    private static bool IsTruncation(InvalidProtocolBufferException e) =>
        e.Message.Contains("ended unexpectedly", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("truncated", StringComparison.OrdinalIgnoreCase);

    private static bool StartsWithModelField(ReadOnlySpan<byte> bytes, out string why)
    {
        // Read the first tag as a varint.
        ulong tag = 0;
        int shift = 0, i = 0;
        while (true)
        {
            if (i >= bytes.Length || shift > 28)
            {
                why = "its first bytes are not a protobuf field tag";
                return false;
            }
            byte b = bytes[i++];
            tag |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                break;
            }
            shift += 7;
        }
        int field = (int)(tag >> 3), wire = (int)(tag & 7);
        if (ModelFields.TryGetValue(field, out int expectedWire) && expectedWire == wire)
        {
            why = "";
            return true;
        }
        why = $"it does not start with an ONNX ModelProto field (first bytes {Convert.ToHexString(bytes[..Math.Min(4, bytes.Length)])})";
        return false;
    }
}
