using ModelBuild.Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// One rewrite of a subgraph into an ONNX Runtime fused operator, recognized from structure (operators, constants,
/// data flow), never from node or value names. <see cref="Apply"/> rewrites every match in place and returns how
/// many it rewrote; <see cref="GraphOptimizer"/> then checks the result in ONNX Runtime and keeps it or drops it.
/// </summary>
public interface IGraphFusion
{
    /// <summary>Short name in the report and the progress lines, e.g. "LayerNormalization".</summary>
    string Name { get; }

    /// <summary>The operator the rewrite produces, domain-qualified for contrib operators (com.microsoft.Attention).</summary>
    string FusedOperator { get; }

    int Apply(OnnxModel model);
}
