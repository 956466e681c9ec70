using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Onnx.ExternalData;

/// <summary>
/// Moves large initializers of a model (all inline) into one data file next to the model, as
/// onnx.save(..., save_as_external_data=True) does. Offsets are aligned so ONNX Runtime can memory-map them.
/// </summary>
internal static class ExternalDataWriter
{
    public static void Externalize(ModelProto model, string modelPath, long threshold, OnnxSaveOptions options)
    {
        string directory = Path.GetDirectoryName(modelPath)!;
        string location = options.ExternalDataFileName ?? Path.GetFileName(modelPath) + ".data";
        // The same rules as for reading: a relative location inside the model's folder.
        string dataPath = ExternalDataPaths.Resolve(directory, location, modelPath, "<external data file>");
        if (string.Equals(Path.GetFullPath(dataPath), Path.GetFullPath(modelPath), StringComparison.Ordinal))
        {
            throw OnnxErrors.ExternalMalformed(modelPath, "<external data file>", "the external data file name equals the model file name");
        }
        int alignment = Math.Max(1, options.ExternalDataAlignment);
        var tensors = GraphTraversal.AllGraphs(model.Graph)
            .SelectMany(g => g.Initializer)
            .Where(t => t.DataType != (int)TensorProto.Types.DataType.String
                        && TensorElementTypes.IsFixedSize(t.DataType)
                        && TensorData.ByteCount(t) >= threshold)
            .ToList();
        if (tensors.Count == 0)
        {
            return;
        }
        AtomicFile.Write(dataPath, stream =>
        {
            foreach (var tensor in tensors)
            {
                byte[] bytes = TensorData.ToRawBytes(tensor);
                long padding = (alignment - stream.Position % alignment) % alignment;
                if (padding > 0)
                {
                    stream.Write(new byte[padding]);
                }
                long offset = stream.Position;
                stream.Write(bytes);
                new ExternalDataInfo(location.Replace('\\', '/'), offset, bytes.Length, null).ApplyTo(tensor);
            }
        });
    }
}
