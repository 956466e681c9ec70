using ModelBuild.Onnx;

namespace ModelBuild.Compression.Optimization;

/// <summary>
/// A fusion into one of ONNX Runtime's contrib (com.microsoft) operators, named after the operator it writes, so the
/// report's name and the operator cannot drift apart. The rewrite works on the graph's <see cref="GraphPatterns"/>.
/// </summary>
public abstract class ContribOperatorFusion(string op) : IGraphFusion
{
    public string Name => op;
    public string FusedOperator => GraphPatterns.MicrosoftDomain + "." + op;

    public int Apply(OnnxModel model) => Rewrite(new GraphPatterns(model));

    /// <summary>Rewrites every match in place; returns how many it rewrote.</summary>
    protected abstract int Rewrite(GraphPatterns g);
}
