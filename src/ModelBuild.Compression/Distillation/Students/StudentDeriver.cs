using Onnx;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>
/// <c>--student-width f --student-depth f</c>: picks how to derive the student from the teacher's structure.
/// Conv networks and transformers (recognized by <see cref="TransformerLayerFinder"/>) are shrunk in place by
/// <see cref="GraphStudentBuilder"/>; Gemm/MatMul chains are rebuilt by <see cref="MlpStudentBuilder"/>.
/// </summary>
public static class StudentDeriver
{
    /// <param name="ffnWidth">Factor for FFN / hidden neurons (transformer feed-forward width); null uses <paramref name="width"/>.</param>
    public static ModelProto Derive(ModelProto teacher, double width, double depth, double? ffnWidth, string teacherFile) =>
        DeriveWithOrigin(teacher, width, depth, ffnWidth, teacherFile).Student;

    /// <summary>
    /// The derived student and, for a graph student, what was kept of the teacher (its weights are the teacher's kept
    /// layers and most important units); null for an MLP student, which is rebuilt with zero weights to initialize.
    /// </summary>
    public static (ModelProto Student, StudentDerivation? FromTeacher) DeriveWithOrigin(ModelProto teacher, double width, double depth, double? ffnWidth, string teacherFile)
    {
        double ffn = ffnWidth ?? width;
        if (width is <= 0 or > 1 || depth is <= 0 or > 1 || ffn is <= 0 or > 1 || double.IsNaN(width + depth + ffn))
            throw DistillationErrors.InvalidOption("--student-width/--student-depth/--student-ffn-width", $"width {width}, depth {depth} and FFN width {ffn} must be in (0, 1]");
        // Control flow and recurrent cells have no derived form: name them, not the first node an MLP cannot hold.
        if (teacher.Graph.Node.FirstOrDefault(n => n.OpType is "If" or "Loop" or "Scan" or "LSTM" or "GRU" or "RNN") is { } flow)
            throw DistillationErrors.CannotDeriveStudent(teacherFile, $"node '{flow.Name}' ({flow.OpType}) is control flow or a recurrent cell, which a derived student cannot reproduce");
        bool graphStudent = teacher.Graph.Node.Any(n => n.OpType is "Conv" or "ConvTranspose") || TransformerLayerFinder.Find(teacher) is not null;
        if (graphStudent) return GraphStudentBuilder.Derive(teacher, width, depth, ffn, teacherFile);
        // An MLP's hidden layers are all neurons, so the neuron factor sets their width.
        return (MlpStudentBuilder.Derive(teacher, ffn, depth, teacherFile), null);
    }
}
