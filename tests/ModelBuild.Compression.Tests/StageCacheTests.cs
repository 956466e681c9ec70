using System.Text.Json.Nodes;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Tests;

/// <summary>The per-stage cache key covers the input model's bytes, the stage's settings and its data files' bytes.</summary>
public class StageCacheTests
{
    private static string Key(string stage, string model, (object Settings, string?[] Files) inputs) =>
        ContentKey.OfStage(stage, model, inputs.Settings, inputs.Files, ToolVersions.OfThisProcess());

    [Fact]
    public void Key_changes_with_input_bytes_settings_and_data_bytes_but_not_with_paths()
    {
        var dir = TestMaterials.TempDir();
        string Write(string name, byte[] bytes) { var p = Path.Combine(dir, name); File.WriteAllBytes(p, bytes); return p; }
        var model = Write("model.onnx", [1, 2, 3]);
        var sameModelElsewhere = Write("copy.onnx", [1, 2, 3]);
        var otherModel = Write("other.onnx", [1, 2, 4]);
        var data = Write("x.npy", [5]);
        var sameData = Write("y.npy", [5]);
        var otherData = Write("z.npy", [6]);

        var key = Key("quantize", model, (new { Quantize = "int8-dynamic" }, [data, null]));
        Assert.Matches("^[0-9a-f]{64}$", key);
        Assert.Equal(key, Key("quantize", sameModelElsewhere, (new { Quantize = "int8-dynamic" }, [sameData, null])));
        Assert.NotEqual(key, Key("quantize", otherModel, (new { Quantize = "int8-dynamic" }, [data, null])));
        Assert.NotEqual(key, Key("quantize", model, (new { Quantize = "int8-weights" }, [data, null])));
        Assert.NotEqual(key, Key("quantize", model, (new { Quantize = "int8-dynamic" }, [otherData, null])));
        Assert.NotEqual(key, Key("quantize", model, (new { Quantize = "int8-dynamic" }, [null, data])));
        Assert.NotEqual(key, Key("prune", model, (new { Quantize = "int8-dynamic" }, [data, null])));
    }

    [Fact]
    public void Stored_entries_come_back_byte_identical_with_their_details_and_misses_are_null()
    {
        var dir = TestMaterials.TempDir();
        var cache = new StageCache(Path.Combine(dir, "stages"));
        var model = Path.Combine(dir, "m.onnx");
        File.WriteAllBytes(model, [9, 8, 7]);
        var back = Path.Combine(dir, "back.onnx");
        Assert.Null(cache.TryGet("k1", back));
        cache.Store("k1", model, new JsonObject { ["chosen"] = "int8-weights" }, 1.5);
        var hit = cache.TryGet("k1", back);
        Assert.NotNull(hit);
        Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(back));
        Assert.Equal("int8-weights", hit!.Details!["chosen"]!.GetValue<string>());
        Assert.Equal(1.5, hit.Seconds);
        Assert.Empty(Directory.GetDirectories(cache.Directory, "*.tmp"));
    }
}
