using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Evaluation;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// A model with intermediate float tensors exposed as extra graph outputs (calibration, per-layer SQNR), written to a
/// temporary file and opened in ONNX Runtime at the basic optimization level: fusions at higher levels could remove
/// the tensors being observed. Disposing closes the session and deletes the file.
/// </summary>
internal sealed class ObservedModel : IDisposable
{
    private readonly string _path;

    /// <param name="tensors">The tensors to expose; those that are graph outputs already are left as they are.</param>
    /// <param name="purpose">The temporary file's name part (<c>modelbuild-{purpose}-{guid}.onnx</c>).</param>
    public ObservedModel(ModelProto model, IEnumerable<string> tensors, int threads, string purpose)
    {
        var augmented = model.Clone();
        var outputs = augmented.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var name in tensors.Where(t => !outputs.Contains(t)))
        {
            augmented.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }
        _path = Path.Combine(Path.GetTempPath(), $"modelbuild-{purpose}-" + Guid.NewGuid().ToString("N") + ".onnx");
        try
        {
            File.WriteAllBytes(_path, OnnxModelAccess.Serialize(augmented));
            Runner = new ModelRunner(_path, threads, GraphOptimizationLevel.ORT_ENABLE_BASIC);
        }
        catch
        {
            File.Delete(_path);
            throw;
        }
    }

    public ModelRunner Runner { get; }

    public void Dispose()
    {
        Runner.Dispose();
        File.Delete(_path);
    }
}
