using Onnx;

namespace ModelBuild.Compression.Structure.Coupling;

/// <summary>What a coupling rule may look at: initializers, concrete shapes, the opset and the group's unit count.</summary>
internal sealed class CouplingContext
{
    public CouplingContext(ModelProto model, IReadOnlyDictionary<string, long[]> shapes)
    {
        Initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        Shapes = shapes;
        Opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(1).Max();
    }

    public IReadOnlyDictionary<string, TensorProto> Initializers { get; }
    public IReadOnlyDictionary<string, long[]> Shapes { get; }
    public long Opset { get; }

    /// <summary>Units of the group being built (Concat needs it to find which input a span falls in).</summary>
    public int Units { get; set; }

    public bool IsInitializer(string name) => Initializers.ContainsKey(name);

    public long[] Shape(string name) => Shapes.TryGetValue(name, out var s)
        ? s
        : throw new CouplingException($"no shape known for tensor '{name}'");

    public int Rank(string name) => Shape(name).Length;
}

/// <summary>What one rule found for one node: more spans to visit, parameters and constants to edit, or why the group cannot be rewritten.</summary>
internal sealed class CouplingResult
{
    public List<ChannelSpan> Spans { get; } = new();
    public List<ParameterSlice> Parameters { get; } = new();
    public List<ShapeConstantEdit> ShapeEdits { get; } = new();
    public List<ConvGroupEdit> ConvGroupEdits { get; } = new();

    /// <summary>Set when the rule reduces over the units (LayerNorm statistics): shapes stay consistent, the values change.</summary>
    public bool ReducesOverUnits { get; set; }
}

/// <summary>A group cannot be rewritten; <see cref="UnitMultiple"/> &gt; 1 says a coarser unit might work (e.g. whole attention heads).</summary>
internal sealed class CouplingException : Exception
{
    public CouplingException(string reason, int unitMultiple = 1) : base(reason) => UnitMultiple = unitMultiple;

    public int UnitMultiple { get; }
}
