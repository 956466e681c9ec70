using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>The MB033x diagnostics of deriving a student from the teacher's graph (docs/diagnostics.md).</summary>
internal static class StudentDerivationErrors
{
    public static ModelBuildException NoRepeatableBlock(string teacher, double depth) => new("MB0330", $"--student-depth {depth} asks for fewer layers, but the teacher has no repeatable block: no transformer encoder layers, no residual block and no two consecutive Conv blocks whose output keeps their input's shape (each of its Conv layers changes the shape, so none can be dropped).", "Use --student-depth 1 and shrink the teacher with --student-width only, or pass a student model with --student.", teacher);

    public static ModelBuildException NothingToScale(string teacher, double width) => new("MB0331", $"--student-width {width} asks for narrower layers, but no group of coupled channels of the teacher can shrink (every one reaches a model input or output, has a single unit, or passes an operator the dependency analysis does not know).", "Use --student-width 1 (depth only), or pass a student model with --student.", teacher);

    public static ModelBuildException ComputedReshapeTarget(string teacher, double width, string reshape) => new("MB0335", $"--student-width {width} asks for narrower layers, but no group of coupled channels of the teacher can shrink: the target shape of Reshape '{reshape}' is computed at run time, and runs at two input sizes do not reduce it to constants with at most one inferred (-1) entry, so the width cannot be followed through it.", "Export the model with constant Reshape targets (or batch and sequence merged only around a MatMul, as Tensordot does), use --student-width 1 (depth only), or pass a student model with --student.", teacher);

    public static ModelBuildException InvalidStudentGraph(string teacher, string detail, Exception? inner) => new("MB0332", $"The student derived from the teacher does not run in ONNX Runtime: {detail}", "Pass a student model with --student, or report the teacher so its structure can be supported.", teacher, inner);
}
