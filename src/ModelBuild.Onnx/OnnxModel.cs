using Google.Protobuf;
using ModelBuild.Onnx.Diagnostics;
using ModelBuild.Onnx.ExternalData;
using ModelBuild.Onnx.Graph;
using ModelBuild.Onnx.Tensors;
using Onnx;

namespace ModelBuild.Onnx;

/// <summary>
/// An ONNX model (OnnxSharp's <see cref="ModelProto"/>) together with the folder it came from, which is where
/// its external data lives. Loading turns every way a file can be wrong into an MB00xx error naming it;
/// saving is atomic and optionally moves large initializers to an external data file. Unknown protobuf
/// fields and metadata_props survive a load/save round trip (Google.Protobuf keeps unknown fields).
/// </summary>
public sealed class OnnxModel
{
    private OnnxGraph? _graph;

    public OnnxModel(ModelProto proto, string? baseDirectory = null, string? filePath = null)
    {
        Proto = proto ?? throw new ArgumentNullException(nameof(proto));
        FilePath = filePath is null ? null : Path.GetFullPath(filePath);
        BaseDirectory = Path.GetFullPath(baseDirectory ?? (FilePath is null ? Directory.GetCurrentDirectory() : Path.GetDirectoryName(FilePath)!));
        ExternalData = new ExternalDataReader(BaseDirectory, DisplayName);
    }

    /// <summary>The protobuf model; edit it freely (call <see cref="InvalidateGraph"/> after editing the graph directly).</summary>
    public ModelProto Proto { get; }

    /// <summary>The main graph's protobuf.</summary>
    public GraphProto GraphProto => Proto.Graph;

    /// <summary>Graph helpers over the main graph (producers, consumers, topological order, editing).</summary>
    public OnnxGraph Graph => _graph ??= new OnnxGraph(Proto.Graph, DisplayName);

    /// <summary>The file the model was loaded from, if any (full path).</summary>
    public string? FilePath { get; }

    /// <summary>The folder external data locations are relative to.</summary>
    public string BaseDirectory { get; }

    /// <summary>Reads external tensors of this model (validated against <see cref="BaseDirectory"/>).</summary>
    public ExternalDataReader ExternalData { get; }

    /// <summary>External data files the model was loaded with (full paths, each once).</summary>
    public IReadOnlyList<string> ExternalDataFiles => _externalFiles;

    private readonly List<string> _externalFiles = new();

    /// <summary>The name used in error messages.</summary>
    public string DisplayName => FilePath ?? "<in-memory model>";

    /// <summary>Drops cached graph indices after the GraphProto was edited without going through <see cref="Graph"/>.</summary>
    public void InvalidateGraph() => _graph = null;

    public static OnnxModel Load(string path, OnnxLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            throw OnnxErrors.NotAnOnnxModel(path, "it is a folder, not a file");
        }
        if (!File.Exists(path))
        {
            throw OnnxErrors.ModelFileNotFound(path);
        }
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OnnxErrors.CannotAccess(path, e.Message, e);
        }
        return Load(bytes, Path.GetDirectoryName(Path.GetFullPath(path))!, path, options);
    }

    /// <summary>Loads from bytes; <paramref name="baseDirectory"/> is where external data is looked up.</summary>
    public static OnnxModel Load(ReadOnlySpan<byte> bytes, string baseDirectory, string? displayPath = null, OnnxLoadOptions? options = null)
    {
        options ??= new OnnxLoadOptions();
        string name = displayPath ?? "<in-memory model>";
        var proto = ModelFileParser.Parse(bytes, name);
        var model = new OnnxModel(proto, baseDirectory, displayPath);
        model.ValidateExternalData(inline: options.LoadExternalData);
        return model;
    }

    public static OnnxModel Load(Stream stream, string baseDirectory, string? displayPath = null, OnnxLoadOptions? options = null)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Load(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), baseDirectory, displayPath, options);
    }

    /// <summary>Serializes the model (all data inline; external tensors are read in).</summary>
    public byte[] ToBytes()
    {
        var copy = PrepareForSave();
        return copy.ToByteArray();
    }

    /// <summary>
    /// Writes the model atomically (temp file + rename). With <see cref="OnnxSaveOptions.ExternalDataThreshold"/>,
    /// initializers of that many bytes or more go to an external data file beside it, also written atomically.
    /// The in-memory model is not changed.
    /// </summary>
    public void Save(string path, OnnxSaveOptions? options = null)
    {
        options ??= new OnnxSaveOptions();
        string fullPath = Path.GetFullPath(path);
        var copy = PrepareForSave();
        try
        {
            if (options.ExternalDataThreshold is { } threshold)
            {
                ExternalDataWriter.Externalize(copy, fullPath, threshold, options);
            }
            AtomicFile.Write(fullPath, stream => copy.WriteTo(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw OnnxErrors.CannotAccess(path, e.Message, e);
        }
    }

    /// <summary>A deep copy with the same folder.</summary>
    public OnnxModel Clone() => new(Proto.Clone(), BaseDirectory, FilePath);

    /// <summary>The opset version imported for a domain ("" and "ai.onnx" are the same), or null if not imported.</summary>
    public long? GetOpsetVersion(string domain = "")
    {
        foreach (var opset in Proto.OpsetImport)
        {
            if (SameDomain(opset.Domain, domain))
            {
                return opset.Version;
            }
        }
        return null;
    }

    /// <summary>Sets (or adds) the opset import of a domain.</summary>
    public void SetOpsetVersion(string domain, long version)
    {
        foreach (var opset in Proto.OpsetImport)
        {
            if (SameDomain(opset.Domain, domain))
            {
                opset.Version = version;
                return;
            }
        }
        Proto.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
    }

    /// <summary>Elements in all initializers (all graphs, sparse ones by their stored values): the usual "parameter count".</summary>
    public long ParameterCount => GraphTraversal.AllGraphs(Proto.Graph).Sum(g =>
        g.Initializer.Sum(TensorData.ElementCount) + g.SparseInitializer.Sum(s => s.Values is null ? 0 : TensorData.ElementCount(s.Values)));

    /// <summary>Bytes of initializer data (all graphs), wherever it is stored.</summary>
    public long InitializerBytes => GraphTraversal.AllGraphs(Proto.Graph).Sum(g =>
        g.Initializer.Sum(t => t.DataType == (int)TensorProto.Types.DataType.String ? t.StringData.Sum(s => (long)s.Length) : TensorData.ByteCount(t)));

    /// <summary>Metadata props as a dictionary (a copy; edit <see cref="ModelProto.MetadataProps"/> to change them).</summary>
    public IReadOnlyDictionary<string, string> Metadata =>
        Proto.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);

    internal static bool SameDomain(string a, string b) => NormalizeDomain(a) == NormalizeDomain(b);

    internal static string NormalizeDomain(string domain) => domain == "ai.onnx" ? "" : domain;

    /// <summary>Checks every external location (MB0010-MB0014) and, when asked, reads the data into raw_data.</summary>
    private void ValidateExternalData(bool inline)
    {
        foreach (var tensor in GraphTraversal.AllTensors(Proto.Graph))
        {
            if (!ExternalDataInfo.IsExternal(tensor))
            {
                continue;
            }
            var info = ExternalDataInfo.Parse(tensor, DisplayName);
            string resolved = ExternalDataPaths.Resolve(BaseDirectory, info.Location, DisplayName, tensor.Name);
            if (!File.Exists(resolved))
            {
                throw OnnxErrors.ExternalMissing(DisplayName, tensor.Name, info.Location);
            }
            if (!_externalFiles.Contains(resolved))
            {
                _externalFiles.Add(resolved);
            }
            if (inline)
            {
                TensorData.ConvertToRawData(tensor, ExternalData);
            }
        }
    }

    /// <summary>A copy whose tensors are all inline (external ones read from this model's folder).</summary>
    private ModelProto PrepareForSave()
    {
        var copy = Proto.Clone();
        foreach (var tensor in GraphTraversal.AllTensors(copy.Graph))
        {
            if (ExternalDataInfo.IsExternal(tensor))
            {
                TensorData.ConvertToRawData(tensor, ExternalData);
            }
        }
        return copy;
    }
}
