using Onnx;
using TensorDataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// Derives a smaller student from an MLP teacher (<c>--student-width f --student-depth f</c>): the teacher must be a
/// chain of Gemm layers (or MatMul + Add) with element-wise activations between them, recognized from the graph
/// structure. The student keeps the input and output widths and the activation, takes
/// <c>max(1, round(depth * hidden_layers))</c> hidden layers of <c>max(1, round(width * teacher_width))</c> units, and
/// is written as Gemm(transB=1) + activation layers with zero weights (the distiller initializes them).
/// </summary>
public static class MlpStudentBuilder
{
    static readonly HashSet<string> Activations = new(StringComparer.Ordinal) { "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Erf" };
    static readonly HashSet<string> PassThrough = new(StringComparer.Ordinal) { "Dropout", "Identity" };

    public static ModelProto Derive(ModelProto teacher, double width, double depth, string teacherFile)
    {
        if (width is <= 0 or > 1 || depth is <= 0 or > 1)
            throw DistillationErrors.InvalidOption("--student-width/--student-depth", $"width {width} and depth {depth} must be in (0, 1]");
        var g = teacher.Graph;
        var inits = g.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var inputs = g.Input.Where(i => !inits.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1 || g.Output.Count != 1)
            throw DistillationErrors.CannotDeriveStudent(teacherFile, "the teacher needs exactly one input and one output");

        var layers = new List<long>(); // output width of each linear layer
        string? activation = null;
        long inputWidth = -1;
        foreach (var n in g.Node)
        {
            if (n.OpType == "Gemm" && inits.TryGetValue(n.Input[1], out var w) && w.Dims.Count == 2)
            {
                bool transB = n.Attribute.Any(a => a.Name == "transB" && a.I != 0);
                if (inputWidth < 0) inputWidth = transB ? w.Dims[1] : w.Dims[0];
                layers.Add(transB ? w.Dims[0] : w.Dims[1]);
            }
            else if (n.OpType == "MatMul" && inits.TryGetValue(n.Input[1], out var m) && m.Dims.Count == 2)
            {
                if (inputWidth < 0) inputWidth = m.Dims[0];
                layers.Add(m.Dims[1]);
            }
            else if (Activations.Contains(n.OpType)) activation ??= n.OpType;
            else if (n.OpType == "Add" && n.Input.Any(inits.ContainsKey)) { }
            else if (!PassThrough.Contains(n.OpType) && n.OpType != "Flatten")
                throw DistillationErrors.CannotDeriveStudent(teacherFile, $"node '{n.Name}' ({n.OpType}) is not part of an MLP, and the teacher has no Conv layer or recognized transformer encoder layer");
        }
        if (layers.Count < 2 || activation is null)
            throw DistillationErrors.CannotDeriveStudent(teacherFile, "no hidden layer with an activation was found");

        int hiddenCount = Math.Max(1, (int)Math.Round(depth * (layers.Count - 1)));
        // Keep the first hidden layers' widths (the widest, nearest the input, in a typical MLP), scaled.
        var hidden = layers.Take(layers.Count - 1).Take(hiddenCount).Select(h => Math.Max(1L, (long)Math.Round(width * h))).ToList();
        return Build(teacher, inputs[0], g.Output[0], inputWidth, hidden, layers[^1], activation);
    }

    static ModelProto Build(ModelProto teacher, ValueInfoProto input, ValueInfoProto output, long inWidth, List<long> hidden, long outWidth, string activation)
    {
        var graph = new GraphProto { Name = "student" };
        graph.Input.Add(input.Clone());
        graph.Output.Add(output.Clone());
        var widths = new List<long> { inWidth };
        widths.AddRange(hidden);
        widths.Add(outWidth);
        string x = input.Name;
        for (int i = 0; i + 1 < widths.Count; i++)
        {
            string w = $"layers.{i}.weight", b = $"layers.{i}.bias";
            graph.Initializer.Add(Zeros(w, widths[i + 1], widths[i]));
            graph.Initializer.Add(Zeros(b, widths[i + 1]));
            bool last = i + 2 == widths.Count;
            string y = last ? output.Name : $"/layers.{i}/Gemm_output_0";
            var gemm = new NodeProto { OpType = "Gemm", Name = $"/layers.{i}/Gemm" };
            gemm.Input.Add(x); gemm.Input.Add(w); gemm.Input.Add(b);
            gemm.Output.Add(y);
            gemm.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
            graph.Node.Add(gemm);
            x = y;
            if (!last)
            {
                var act = new NodeProto { OpType = activation, Name = $"/act.{i}/{activation}" };
                act.Input.Add(x);
                x = $"/act.{i}/{activation}_output_0";
                act.Output.Add(x);
                graph.Node.Add(act);
            }
        }
        var model = new ModelProto { IrVersion = teacher.IrVersion, ProducerName = "ModelBuild", Graph = graph };
        model.OpsetImport.Add(teacher.OpsetImport.Select(o => o.Clone()));
        return model;
    }

    static TensorProto Zeros(string name, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorDataType.Float };
        t.Dims.AddRange(dims);
        t.RawData = Google.Protobuf.ByteString.CopyFrom(new byte[dims.Aggregate(1L, (p, d) => p * d) * 4]);
        return t;
    }
}
