namespace ModelBuild.Compression.Structure;

/// <summary>What a parameter tensor is to the group that slices it; magnitude importance reads the weight roles.</summary>
public enum ParameterRole
{
    /// <summary>Weight of the layer that produces the group's units (Gemm/MatMul output features, Conv output channels).</summary>
    OutputWeight,
    /// <summary>Weight of a layer that consumes the group's units (the next layer's input features or channels).</summary>
    InputWeight,
    /// <summary>A bias or another per-unit constant added or multiplied elementwise.</summary>
    Bias,
    /// <summary>The scale of a normalization (BatchNormalization gamma).</summary>
    NormalizationScale,
    /// <summary>Running statistics and shifts of a normalization.</summary>
    NormalizationState,
    /// <summary>An embedding table's feature columns.</summary>
    Embedding,
}

/// <summary>An initializer sliced along one axis when the group loses units.</summary>
public sealed record ParameterSlice(string Initializer, int Axis, int UnitSize, int Offset, ParameterRole Role, string Node)
{
    public bool CountsForImportance => Role is ParameterRole.OutputWeight or ParameterRole.InputWeight
        or ParameterRole.NormalizationScale or ParameterRole.Embedding;
}

/// <summary>A Reshape target shape whose entry <see cref="Index"/> shrinks by <c>removedUnits * UnitSize</c>.</summary>
public sealed record ShapeConstantEdit(string Initializer, int Index, int UnitSize, string Node);

/// <summary>A depthwise Conv whose <c>group</c> attribute shrinks by <c>removedUnits * UnitSize</c>.</summary>
public sealed record ConvGroupEdit(string Node, int UnitSize);
