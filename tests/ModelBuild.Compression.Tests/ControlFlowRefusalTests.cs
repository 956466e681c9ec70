using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx.Diagnostics;
using Onnx;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// Pruning and distillation on models with control flow or recurrent cells: refused with a code naming the op and the
/// node (before: structured pruning wrote the model unchanged without a word, unstructured ended in MB0599).
/// </summary>
public sealed class ControlFlowRefusalTests
{
    public static TheoryData<string, string> Models => new() { { "If", "branch_on_energy" }, { "LSTM", "lstm" }, { "GRU", "gru" } };

    [Theory]
    [MemberData(nameof(Models))]
    public void Pruning_refuses_naming_the_op_and_node(string op, string node)
    {
        foreach (var mode in new[] { "structured", "unstructured" })
        {
            var (teacher, dir) = Save(op);
            var e = Assert.Throws<ModelBuildException>(() => TestMaterials.Run(new CompressionRecipe
            {
                Teacher = teacher, Output = Path.Combine(dir, "pruned.onnx"), Prune = 0.5, PruneMode = mode,
            }));
            Assert.Equal("MB0220", e.Code);
            Assert.Contains($"{op} '{node}'", e.Message);
            Assert.False(File.Exists(Path.Combine(dir, "pruned.onnx")));
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Distillation_refuses_to_derive_or_import_them_naming_the_op_and_node(string op, string node)
    {
        var (teacher, dir) = Save(op);
        var derive = Assert.Throws<ModelBuildException>(() => TestMaterials.Run(new CompressionRecipe
        {
            Teacher = teacher, Output = Path.Combine(dir, "derived.onnx"), Distill = true, StudentWidth = 0.5, Synthetic = 64,
        }));
        Assert.Equal("MB0309", derive.Code);
        Assert.Contains($"'{node}' ({op})", derive.Message);
        var import = Assert.Throws<ModelBuildException>(() => TestMaterials.Run(new CompressionRecipe
        {
            Teacher = teacher, Student = teacher, Output = Path.Combine(dir, "student.onnx"), Distill = true, Synthetic = 64,
        }));
        Assert.Equal("MB0301", import.Code);
        Assert.Contains($"{op} ({node})", import.Message);
    }

    static (string Path, string Dir) Save(string op)
    {
        var dir = TestMaterials.TempDir();
        var path = Path.Combine(dir, op.ToLowerInvariant() + ".onnx");
        OnnxModelAccess.Save(op == "If" ? ControlFlowQuantizationTests.BranchyModel() : ControlFlowQuantizationTests.RecurrentModel(op, 4), path);
        return (path, dir);
    }
}
