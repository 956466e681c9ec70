using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Onnx;
using TorchSharp;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// Writes a trained <see cref="OnnxGraphModule"/> back to ONNX: the same graph, with every trainable initializer
/// (and every initializer-backed buffer, e.g. BatchNorm running statistics) replaced by its trained value, in the
/// initializer's own element type. Learned projections of feature distillation live outside the module and are
/// therefore never exported. The file is written atomically (temp file + rename).
/// </summary>
public static class OnnxStudentExporter
{
    public static OnnxModel ToOnnx(OnnxGraphModule module)
    {
        var proto = module.Model.Clone();
        var byName = proto.Graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        using (torch.no_grad())
        {
            var constants = proto.Graph.Node.Where(n => n.OpType == "Constant" && module.ConstantWeights.Contains(n.Output[0]))
                .ToDictionary(n => n.Output[0], n => n.Attribute.First(a => a.Name == "value").T, StringComparer.Ordinal);
            foreach (var (name, parameter) in module.OnnxParameters)
                TensorProtoConverter.OverwriteValues(byName.TryGetValue(name, out var init) ? init : constants[name], parameter);
            foreach (var (name, buffer) in module.InitializerBuffers)
                TensorProtoConverter.OverwriteValues(byName[name], buffer);
        }
        return new OnnxModel(proto);
    }

    public static void Save(OnnxGraphModule module, string path) => ToOnnx(module).Save(path);
}
