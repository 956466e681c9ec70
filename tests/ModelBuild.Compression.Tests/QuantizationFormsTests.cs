using ModelBuild.Compression.Quantization;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Tests;

/// <summary>The quantizer registry: the accepted words, auto's candidates and the fallback all come from its one list.</summary>
public class QuantizationFormsTests
{
    [Fact]
    public void The_words_are_none_each_registered_form_and_auto_and_aliases_map_to_them()
    {
        Assert.Equal(["none", "int8-dynamic", "int8-static", "int8-weights", "int4-weight", "fp16", "auto"], QuantizationForms.Words);
        foreach (var form in QuantizationForms.All)
        {
            Assert.Equal(form.Name, QuantizationForms.Parse(form.Name.ToUpperInvariant()));
            foreach (var alias in form.Aliases) Assert.Equal(form.Name, QuantizationForms.Parse(" " + alias + " "));
        }
        Assert.Equal("none", QuantizationForms.Parse(null));
        var e = Assert.Throws<ModelBuildException>(() => QuantizationForms.Parse("int3"));
        Assert.Equal("MB0207", e.Code);
        Assert.Contains("none, int8-dynamic, int8-static, int8-weights, int4-weight, fp16 or auto", e.Remedy);
    }

    [Fact]
    public void The_recipe_schema_accepts_exactly_the_registry_words()
    {
        // The schema is shared as source with the build task, which must not load the engine, so it keeps its own list;
        // this is the check that the two never drift (a new form: one file, one registry line, one word in the schema).
        Assert.Equal(QuantizationForms.Words, ModelBuild.Compression.Pipeline.Contract.RecipeSchema.Get("Quantize").Words);
    }

    [Fact]
    public void Auto_tries_static_only_with_calibration_dynamic_only_with_matmuls_and_weights_always()
    {
        string[] Names(bool calibration, bool matMul) => QuantizationForms.AutoCandidates(new QuantizationFacts(calibration, matMul, false)).Select(f => f.Name).ToArray();
        Assert.Equal(["int8-static", "int8-dynamic", "int8-weights"], Names(true, true));
        Assert.Equal(["int8-dynamic", "int8-weights"], Names(false, true));
        Assert.Equal(["int8-static", "int8-weights"], Names(true, false));
        // --prefer size adds the size-only form int4-weight, last, and only where it has MatMul/Gemm weights to reach.
        Assert.Equal(["int8-static", "int8-dynamic", "int8-weights", "int4-weight"], QuantizationForms.AutoCandidates(new QuantizationFacts(true, true, false, PreferSize: true)).Select(f => f.Name));
        Assert.Equal(["int8-static", "int8-weights"], QuantizationForms.AutoCandidates(new QuantizationFacts(true, false, true, PreferSize: true)).Select(f => f.Name));
        Assert.Equal("int8-weights", QuantizationForms.LatencyFallback.Name);
        Assert.Equal(13, QuantizationForms.AutoOpset);
        Assert.All(QuantizationForms.All, f => Assert.Equal(f.SensitivityRepair, f.Name is "int8-static" or "int8-dynamic" or "int4-weight"));
    }
}
