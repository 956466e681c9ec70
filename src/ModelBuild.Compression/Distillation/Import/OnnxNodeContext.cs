using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Import;

/// <summary>
/// What an operator kernel sees when it runs one ONNX node: its inputs (null for an omitted optional input),
/// attribute accessors with ONNX defaults, the opset version the model imports (several operators changed between
/// opsets) and whether the module is training.
/// </summary>
public sealed class OnnxNodeContext
{
    readonly Dictionary<string, AttributeProto> _attributes;

    public OnnxNodeContext(NodeProto node, int opset, bool float16AsFloat32 = false)
    {
        Node = node;
        Opset = opset;
        Float16AsFloat32 = float16AsFloat32;
        _attributes = node.Attribute.ToDictionary(a => a.Name, StringComparer.Ordinal);
        Inputs = Array.Empty<Tensor?>();
    }

    public NodeProto Node { get; }
    public int Opset { get; }
    public Tensor?[] Inputs { get; set; }
    public bool Training { get; set; }

    /// <summary>Compute float16 tensors in float32 (see <see cref="OnnxGraphModule.Float16AsFloat32"/>).</summary>
    public bool Float16AsFloat32 { get; init; }

    /// <summary>The element type a tensor of ONNX type <paramref name="type"/> is computed in.</summary>
    public ScalarType ComputeType(ScalarType type) => Float16AsFloat32 && type == ScalarType.Float16 ? ScalarType.Float32 : type;

    /// <summary>A constant read from an attribute, in the compute type.</summary>
    public Tensor ComputeTensor(Tensor t) => t.dtype == ComputeType(t.dtype) ? t : t.to_type(ComputeType(t.dtype));

    /// <summary>The number of outputs the node asks for (trailing optional outputs may be omitted).</summary>
    public int OutputCount => Node.Output.Count;

    public bool WantsOutput(int i) => i < Node.Output.Count && Node.Output[i].Length > 0;

    public Tensor Input(int i) => i < Inputs.Length && Inputs[i] is { } t
        ? t
        : throw new InvalidOperationException($"Node '{Node.Name}' ({Node.OpType}) is missing required input {i}.");

    public Tensor? OptionalInput(int i) => i < Inputs.Length ? Inputs[i] : null;

    public bool HasAttribute(string name) => _attributes.ContainsKey(name);

    public AttributeProto? Attribute(string name) => _attributes.GetValueOrDefault(name);

    public long Int(string name, long defaultValue) => _attributes.TryGetValue(name, out var a) ? a.I : defaultValue;

    public float Float(string name, float defaultValue) => _attributes.TryGetValue(name, out var a) ? a.F : defaultValue;

    public string String(string name, string defaultValue) =>
        _attributes.TryGetValue(name, out var a) ? a.S.ToStringUtf8() : defaultValue;

    public long[]? Ints(string name) => _attributes.TryGetValue(name, out var a) ? a.Ints.ToArray() : null;

    /// <summary>The values of a 1-D (or scalar) integer tensor input, e.g. a shape or axes.</summary>
    public static long[] ToLongs(Tensor t)
    {
        using var c = t.to_type(ScalarType.Int64).contiguous();
        return c.data<long>().ToArray();
    }

    public static double ToDouble(Tensor t)
    {
        using var c = t.to_type(ScalarType.Float64);
        return c.item<double>();
    }

    /// <summary>Normalizes a possibly negative axis against a rank.</summary>
    public long Axis(long axis, long rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.Max(rank, 1) && !(rank == 0 && a == 0))
            throw new InvalidOperationException($"Node '{Node.Name}' ({Node.OpType}): axis {axis} is out of range for rank {rank}.");
        return a;
    }
}
