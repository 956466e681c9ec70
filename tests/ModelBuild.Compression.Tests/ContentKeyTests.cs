using ModelBuild.Compression.Data;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// The one key scheme (task, worker report, stage cache): data inputs enter by content, including a data folder's files
/// and an npz member's name, and every tool version (TorchSharp too) is part of it.
/// </summary>
public class ContentKeyTests
{
    private static readonly ToolVersions Versions = new("0.1.0", "1.22.0", "0.105.0");

    [Fact]
    public void Keeping_libtorchs_oneDNN_on_is_part_of_the_tool_versions()
    {
        // The worker's deps file as the task reads it; MODELBUILD_TORCH_ONEDNN=1 changes how convolutions train.
        var deps = Path.Combine(TestMaterials.TempDir(), "modelbuild.deps.json");
        File.WriteAllText(deps, """{ "libraries": { "TorchSharp/0.107.0": {}, "Microsoft.ML.OnnxRuntime/1.32.0": {} } }""");
        var off = ToolVersions.FromDepsFile(deps, oneDnn: false);
        var on = ToolVersions.FromDepsFile(deps, oneDnn: true);
        Assert.Equal("0.107.0", off.TorchSharp);
        Assert.Equal("0.107.0+onednn", on.TorchSharp);
        var recipe = new CompressionRecipe { Teacher = deps, Output = "out.onnx", Distill = true };
        Assert.NotEqual(ContentKey.OfResult(recipe, off), ContentKey.OfResult(recipe, on));
    }

    [Fact]
    public void The_result_key_covers_npz_members_folder_contents_and_every_tool_version_but_not_paths()
    {
        var dir = TestMaterials.TempDir();
        var teacher = Path.Combine(dir, "teacher.onnx");
        File.WriteAllBytes(teacher, [1, 2, 3]);
        var npz = Path.Combine(dir, "calib.npz");
        NpzArchive.Write(npz, new Dictionary<string, NpyArray> { ["x"] = NpyArray.Create(new float[] { 1, 2 }, 2), ["y"] = NpyArray.Create(new float[] { 3, 4 }, 2) });
        string Folder(string name)
        {
            var folder = Path.Combine(dir, name, "cat");
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, "1.png"), [7, 7]);
            return Path.GetDirectoryName(folder)!;
        }
        CompressionRecipe Recipe(string calibration, string? evaluation = null) => new()
        {
            Teacher = teacher, Output = Path.Combine(dir, "out.onnx"), Quantize = "int8-static", CalibrationData = calibration, EvaluationData = evaluation,
        };

        var x = ContentKey.OfResult(Recipe(npz + ":x"), Versions);
        Assert.NotEqual(x, ContentKey.OfResult(Recipe(npz + ":y"), Versions));
        Assert.NotEqual(x, ContentKey.OfResult(Recipe(npz + ":x"), Versions with { TorchSharp = "0.106.0" }));
        Assert.NotEqual(x, ContentKey.OfResult(Recipe(npz + ":x"), Versions with { OnnxRuntime = "1.23.0" }));

        var images = Folder("a");
        var withFolder = ContentKey.OfResult(Recipe(npz + ":x", images), Versions);
        Assert.Equal(withFolder, ContentKey.OfResult(Recipe(npz + ":x", Folder("b")), Versions));
        File.WriteAllBytes(Path.Combine(images, "cat", "1.png"), [7, 8]);
        Assert.NotEqual(withFolder, ContentKey.OfResult(Recipe(npz + ":x", images), Versions));
    }

    [Fact]
    public void The_stage_key_covers_npz_members_and_the_TorchSharp_version()
    {
        var dir = TestMaterials.TempDir();
        var model = Path.Combine(dir, "m.onnx");
        File.WriteAllBytes(model, [1, 2, 3]);
        var npz = Path.Combine(dir, "t.npz");
        NpzArchive.Write(npz, new Dictionary<string, NpyArray> { ["a"] = NpyArray.Create(new float[] { 1 }, 1), ["b"] = NpyArray.Create(new float[] { 2 }, 1) });
        var key = ContentKey.OfStage("distill", model, new { Epochs = 2 }, [npz + ":a"], Versions);
        Assert.NotEqual(key, ContentKey.OfStage("distill", model, new { Epochs = 2 }, [npz + ":b"], Versions));
        Assert.NotEqual(key, ContentKey.OfStage("distill", model, new { Epochs = 2 }, [npz + ":a"], Versions with { TorchSharp = "0.106.0" }));
    }
}
