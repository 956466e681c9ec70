using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Onnx.ExternalData;

/// <summary>
/// Reads the bytes of tensors whose data lives in files next to the model. Every location goes through
/// <see cref="ExternalDataPaths.Resolve"/> first.
/// </summary>
public sealed class ExternalDataReader
{
    public ExternalDataReader(string baseDirectory, string modelPath)
    {
        BaseDirectory = baseDirectory;
        ModelPath = modelPath;
    }

    /// <summary>The folder external locations are relative to (the model file's folder).</summary>
    public string BaseDirectory { get; }

    /// <summary>The model file, named in errors.</summary>
    public string ModelPath { get; }

    /// <summary>Reads <paramref name="expectedLength"/> bytes (or the recorded length, or the rest of the file).</summary>
    public byte[] Read(TensorProto tensor, long? expectedLength)
    {
        var info = ExternalDataInfo.Parse(tensor, ModelPath);
        string path = ExternalDataPaths.Resolve(BaseDirectory, info.Location, ModelPath, tensor.Name);
        if (!File.Exists(path))
        {
            throw OnnxErrors.ExternalMissing(ModelPath, tensor.Name, info.Location);
        }
        if (info.Length is { } recorded && expectedLength is { } expected && recorded != expected)
        {
            throw OnnxErrors.TensorMismatch(ModelPath, tensor.Name,
                $"its external data 'length' is {recorded} bytes but its type and dims need {expected}");
        }
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
            long fileLength = stream.Length;
            long length = info.Length ?? expectedLength ?? (fileLength - info.Offset);
            if (info.Offset + length > fileLength || length < 0)
            {
                throw OnnxErrors.ExternalShort(ModelPath, tensor.Name, info.Location, info.Offset, Math.Max(length, 0), fileLength);
            }
            if (length > Array.MaxLength)
            {
                throw OnnxErrors.TensorMismatch(ModelPath, tensor.Name, $"its external data is {length} bytes, more than one .NET array holds");
            }
            var buffer = new byte[length];
            stream.Position = info.Offset;
            stream.ReadExactly(buffer);
            return buffer;
        }
        catch (IOException e) when (e is not FileNotFoundException)
        {
            throw OnnxErrors.CannotAccess(path, e.Message, e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw OnnxErrors.CannotAccess(path, e.Message, e);
        }
    }
}
