using Onnx;

namespace ModelBuild.Onnx.Graph;

/// <summary>Typed attribute lookup on a node, with defaults, and attribute constructors.</summary>
public static class NodeAttributes
{
    public static AttributeProto? Find(this NodeProto node, string name)
    {
        foreach (var a in node.Attribute)
        {
            if (a.Name == name)
            {
                return a;
            }
        }
        return null;
    }

    public static bool HasAttribute(this NodeProto node, string name) => node.Find(name) is not null;

    /// <summary>Removes the attributes with these names (those present).</summary>
    public static void RemoveAttributes(this NodeProto node, params string[] names)
    {
        for (var i = node.Attribute.Count - 1; i >= 0; i--)
        {
            if (names.Contains(node.Attribute[i].Name))
            {
                node.Attribute.RemoveAt(i);
            }
        }
    }

    public static long GetInt(this NodeProto node, string name, long defaultValue) => node.Find(name) is { } a ? a.I : defaultValue;

    public static float GetFloat(this NodeProto node, string name, float defaultValue) => node.Find(name) is { } a ? a.F : defaultValue;

    public static string GetString(this NodeProto node, string name, string defaultValue) =>
        node.Find(name) is { } a ? a.S.ToStringUtf8() : defaultValue;

    /// <summary>An ints attribute, or null when absent.</summary>
    public static long[]? GetInts(this NodeProto node, string name) => node.Find(name) is { } a ? a.Ints.ToArray() : null;

    public static float[]? GetFloats(this NodeProto node, string name) => node.Find(name) is { } a ? a.Floats.ToArray() : null;

    public static TensorProto? GetTensor(this NodeProto node, string name) => node.Find(name)?.T;

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(value) };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Floats(string name, params float[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }

    public static AttributeProto Tensor(string name, TensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };
}
