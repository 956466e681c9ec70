using ModelBuild.Compression.Distillation.Import;
using Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// Re-initializes an imported student the way PyTorch initializes fresh modules (<c>--reinitialize</c>), recognizing
/// each weight's role from the graph, not from names:
/// Linear (Gemm, MatMul with a weight initializer) and Conv weights get kaiming_uniform(a=sqrt(5)), i.e.
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and their biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); Gather tables
/// (nn.Embedding) N(0, 1); normalization scales 1 and shifts 0 (LayerNormalization, BatchNormalization,
/// InstanceNormalization and the decomposed LayerNorm's Mul/Add); BatchNorm running statistics 0 and 1. Other
/// trainable tensors (e.g. learned position tables) get N(0, 0.02), the usual transformer convention.
/// Uses torch's generator, so <c>torch.manual_seed</c> makes it deterministic.
/// </summary>
public static class PyTorchDefaultInitializer
{
    enum Role { Unknown, Weight, Bias, Embedding, One, Zero }

    public static void Apply(OnnxGraphModule module)
    {
        var graph = module.Model.Graph;
        var roles = new Dictionary<string, (Role Role, long FanIn)>(StringComparer.Ordinal);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in graph.Node) foreach (var o in n.Output) producers[o] = n;
        var shapes = graph.Initializer.ToDictionary(i => i.Name, i => i.Dims.ToArray(), StringComparer.Ordinal);
        // Weights held by Constant nodes (converter exports) have the same roles.
        foreach (var name in module.ConstantWeights) shapes[name] = module.OnnxParameters[name].shape;
        var linearOutputs = new Dictionary<string, long>(StringComparer.Ordinal); // MatMul output -> fan_in

        void Set(string name, Role role, long fanIn = 0)
        {
            if (!roles.ContainsKey(name)) roles[name] = (role, fanIn);
        }

        foreach (var n in graph.Node)
        {
            string In(int i) => i < n.Input.Count ? n.Input[i] : "";
            switch (n.OpType)
            {
                case "Gemm" when shapes.TryGetValue(In(1), out var w) && w.Length == 2:
                {
                    bool transB = n.Attribute.Any(a => a.Name == "transB" && a.I != 0);
                    long fanIn = transB ? w[1] : w[0];
                    Set(In(1), Role.Weight, fanIn);
                    if (In(2).Length > 0) Set(In(2), Role.Bias, fanIn);
                    break;
                }
                case "MatMul" when shapes.TryGetValue(In(1), out var w) && w.Length == 2:
                    Set(In(1), Role.Weight, w[0]);
                    linearOutputs[n.Output[0]] = w[0];
                    break;
                case "Conv" when shapes.TryGetValue(In(1), out var w):
                {
                    long fanIn = w.Skip(1).Aggregate(1L, (p, d) => p * d);
                    Set(In(1), Role.Weight, fanIn);
                    if (In(2).Length > 0) Set(In(2), Role.Bias, fanIn);
                    break;
                }
                case "ConvTranspose" when shapes.TryGetValue(In(1), out var w):
                {
                    // torch computes ConvTranspose's fan_in from weight.size(1) * kernel, i.e. out_channels / groups.
                    long fanIn = w.Skip(1).Aggregate(1L, (p, d) => p * d);
                    Set(In(1), Role.Weight, fanIn);
                    if (In(2).Length > 0) Set(In(2), Role.Bias, fanIn);
                    break;
                }
                case "Gather" when shapes.ContainsKey(In(0)):
                    Set(In(0), Role.Embedding);
                    break;
                case "BatchNormalization" or "InstanceNormalization" or "LayerNormalization":
                    Set(In(1), Role.One);
                    if (In(2).Length > 0) Set(In(2), Role.Zero);
                    if (n.OpType == "BatchNormalization") { Set(In(3), Role.Zero); Set(In(4), Role.One); }
                    break;
            }
        }
        // Second pass: biases added to a MatMul's output (Linear = MatMul + Add), then the decomposed LayerNorm's affine.
        foreach (var n in graph.Node)
        {
            if (n.OpType != "Add" && n.OpType != "Mul") continue;
            for (int i = 0; i < n.Input.Count; i++)
            {
                var name = n.Input[i];
                if (!shapes.TryGetValue(name, out var dims) || dims.Length != 1) continue;
                var other = n.Input[1 - i];
                if (n.OpType == "Add" && linearOutputs.TryGetValue(other, out var fanIn)) Set(name, Role.Bias, fanIn);
                else Set(name, n.OpType == "Mul" ? Role.One : Role.Zero);
            }
        }

        using var noGrad = torch.no_grad();
        foreach (var (name, p) in module.OnnxParameters)
            Initialize(p, roles.TryGetValue(name, out var r) ? r : (Role.Unknown, 0));
        foreach (var (name, b) in module.InitializerBuffers)
            if (roles.TryGetValue(name, out var r) && r.Role is Role.One or Role.Zero) Initialize(b, r);
    }

    static void Initialize(Tensor t, (Role Role, long FanIn) r)
    {
        switch (r.Role)
        {
            case Role.Weight:
            case Role.Bias:
            {
                double bound = r.FanIn > 0 ? 1.0 / Math.Sqrt(r.FanIn) : 0;
                nn.init.uniform_(t, -bound, bound);
                break;
            }
            case Role.Embedding: nn.init.normal_(t, 0, 1); break;
            case Role.One: nn.init.ones_(t); break;
            case Role.Zero: nn.init.zeros_(t); break;
            default: nn.init.normal_(t, 0, 0.02); break;
        }
    }
}
