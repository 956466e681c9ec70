using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Compression.Structure;
using Onnx;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// Regularization defaults by kind of student, each chosen on a validation sweep over folds of the shared teachers'
/// training splits, never their test splits (benchmarks/RESULTS.md, "Regularization defaults by kind of student").
/// </summary>
public static class RegularizationDefaults
{
    /// <summary>The dropout of a transformer student from fresh weights: PyTorch's transformer layers' rate, the reference students' too.</summary>
    public const double FreshTransformerDropout = 0.1;

    /// <summary>
    /// The dropout rate when none is given: <see cref="FreshTransformerDropout"/> for a transformer student starting
    /// from fresh weights (it held out better in the sweep), 0 otherwise (MLP students: no better in the sweep;
    /// students starting from the teacher's or a file's weights: not swept).
    /// </summary>
    public static double Dropout(ModelProto student, bool freshWeights)
    {
        if (!freshWeights) return 0;
        var normalized = student.Clone();
        GraphNormalizer.Normalize(normalized);
        return TransformerLayerFinder.Find(normalized) is not null ? FreshTransformerDropout : 0;
    }
}
