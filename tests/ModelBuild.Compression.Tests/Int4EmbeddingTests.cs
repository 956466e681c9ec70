using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using Onnx;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// Issue 17, "4-bit where size matters", on the real shared transformer students: int4-weight writes the embedding
/// tables as ONNX Runtime's GatherBlockQuantized and the matrices as MatMulNBits (accuracy_level 4); ONNX Runtime's own
/// kernel, run here on every row of every table, returns each value within half a quantization step of the float
/// table (a wrong nibble, block or zero-point layout fails this); the whole model runs and stays within a stated
/// tolerance of the float model on the test split; the bytes are deterministic; and the largest tensor of the
/// compressed student is no longer a float embedding table, with int4-weight and with auto --prefer size.
/// </summary>
public class Int4EmbeddingTests
{
    /// <summary>Stated tolerance of the whole int4 model against float, on the test split: top-1 agreement, percent.</summary>
    const double MinAgreement = 97.0;

    /// <summary>Stated tolerance on the logits: the largest difference, relative to the float logits' largest magnitude.</summary>
    const double MaxRelativeLogitDifference = 0.25;

    static string Synthetic(string file) => Path.Combine(Teacher("synthetic-intent-transformer"), file);
    static string Bert(string file) => Path.Combine(Teacher("intent-bert"), file);

    static (string Model, string Calibration, string Test, string Labels) Case(string name) => name switch
    {
        "synthetic-student" => (Synthetic("student_kd.onnx"), Synthetic("calib_x.npy"), Synthetic("test_x.npy"), Synthetic("test_y.npy")),
        "bert-student" => (Bert("student_kd.onnx"), Bert("calib.npz"), Bert("test.npz"), Bert("test_y.npy")),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string> Students => ["synthetic-student", "bert-student"];

    static ModelProto Int4(string model) =>
        new Int4WeightQuantizer().Quantize(GraphPreparation.Prepare(OnnxModelAccess.Load(model), model)).Model;

    [Theory]
    [MemberData(nameof(Students))]
    public void Every_row_onnx_runtime_gathers_is_within_half_a_step_of_the_float_table(string student)
    {
        var path = Case(student).Model;
        var prepared = GraphPreparation.Prepare(OnnxModelAccess.Load(path), path);
        var floatTables = prepared.Graph.Node.Where(n => n.OpType == "Gather").ToDictionary(n => n.Output[0], n => n.Input[0]);
        var floatInits = OnnxModelAccess.Initializers(prepared.Graph);
        var model = new Int4WeightQuantizer().Quantize(prepared).Model;
        var inits = OnnxModelAccess.Initializers(model.Graph);
        var gathers = model.Graph.Node.Where(n => n.OpType == "GatherBlockQuantized").ToList();
        Assert.NotEmpty(gathers);
        foreach (var node in gathers)
        {
            Assert.Equal("com.microsoft", node.Domain);
            Assert.Equal(4, OnnxModelAccess.GetInt(node, "bits"));
            Assert.Equal(32, OnnxModelAccess.GetInt(node, "block_size"));
            var original = OnnxModelAccess.ReadFloats(floatInits[floatTables[node.Output[0]]]);
            var (rows, width) = ((int)floatInits[floatTables[node.Output[0]]].Dims[0], (int)floatInits[floatTables[node.Output[0]]].Dims[1]);
            var scales = OnnxModelAccess.ReadFloats(inits[node.Input[2]]);
            var gathered = RunAlone(node, inits, rows, width);
            var blocks = (width + 31) / 32;
            for (var r = 0; r < rows; r++)
                for (var e = 0; e < width; e++)
                {
                    var step = scales[r * blocks + e / 32];
                    var i = r * width + e;
                    Assert.True(Math.Abs(gathered[i] - original[i]) <= step / 2 * (1 + 1e-4) + 1e-7,
                        $"{node.Name} row {r} element {e}: ONNX Runtime gave {gathered[i]}, float {original[i]}, step {step}");
                }
        }
    }

    /// <summary>Runs one GatherBlockQuantized node alone in ONNX Runtime on ids 0..rows-1: the table as ONNX Runtime reads it.</summary>
    static float[] RunAlone(NodeProto node, Dictionary<string, TensorProto> inits, int rows, int width)
    {
        var model = new ModelProto { IrVersion = 8, Graph = new GraphProto { Name = "gather" } };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        var alone = node.Clone();
        alone.Input[1] = "ids";
        alone.Output[0] = "rows";
        model.Graph.Node.Add(alone);
        foreach (var name in alone.Input.Skip(2).Prepend(alone.Input[0])) model.Graph.Initializer.Add(inits[name].Clone());
        model.Graph.Input.Add(ValueInfo("ids", TensorProto.Types.DataType.Int64, "n"));
        model.Graph.Output.Add(ValueInfo("rows", TensorProto.Types.DataType.Float, "n", "h"));
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(OnnxModelAccess.Serialize(model), options);
        var ids = Enumerable.Range(0, rows).Select(i => (long)i).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(ids, [rows]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["ids"], [input], ["rows"]);
        Assert.Equal([rows, width], results[0].GetTensorTypeAndShape().Shape);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, params string[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    [Fact]
    public void The_codes_pack_even_elements_and_even_blocks_in_the_low_nibble()
    {
        // One row of 64: block 0 spans [-1, 0.875] (codes 0..15 after the zero point 8 at scale 0.125), block 1 is all 0.
        var row = new float[64];
        for (var e = 0; e < 16; e++) { row[2 * e] = -1 + e * 0.125f; row[2 * e + 1] = 0.875f - e * 0.125f; }
        var (packed, scales, zeros, blocks) = BlockQuantizedGather.Quantize(row, 1, 64);
        Assert.Equal(2, blocks);
        Assert.Equal(0.125f, scales[0]);
        Assert.Equal(0x08, zeros[0]);               // block 0: zero point 8 in the low nibble; block 1 (all zero): 0 in the high one
        Assert.Equal(0xF0, packed[0]);              // element 0 = -1 -> code 0 (low), element 1 = 0.875 -> code 15 (high)
        Assert.Equal(0xE1, packed[1]);
        Assert.Equal(row, BlockQuantizedGather.Dequantize(packed, scales, zeros, 1, 64));
    }

    [Fact]
    public void Word_tables_get_4_bits_small_and_odd_width_tables_stay_int8()
    {
        TensorProto Table(long rows, long width) => OnnxModelAccess.FloatTensor("t", new float[rows * width], rows, width);
        Assert.True(BlockQuantizedGather.Fits(Table(627, 64)));   // the synthetic student's word table
        Assert.False(BlockQuantizedGather.Fits(Table(64, 64)));   // intent-bert's position table: 4,096 values
        Assert.False(BlockQuantizedGather.Fits(Table(1001, 65))); // odd width: two codes per byte cannot hold a row
        // intent-bert's student gathers three tables: word [1069, 64] in 4 bits, position [64, 64] and segment [2, 64] int8.
        var model = Int4(Case("bert-student").Model);
        var gather = Assert.Single(model.Graph.Node, n => n.OpType == "GatherBlockQuantized");
        Assert.Equal("input_ids", gather.Input[1]);
        Assert.Equal(2, model.Graph.Node.Count(n => n.OpType == "DequantizeLinear"));
    }

    [Theory]
    [MemberData(nameof(Students))]
    public void The_int4_student_runs_in_onnx_runtime_within_the_stated_tolerance_of_float(string student)
    {
        var (path, _, test, _) = Case(student);
        var dir = TempDir();
        var written = Path.Combine(dir, "int4.onnx");
        OnnxModelAccess.Save(Int4(path), written);
        var data = DataSource.ReadInputSet(test, new DataReadOptions().ForModel(path));
        using var floatRunner = new ModelRunner(path);
        using var int4Runner = new ModelRunner(written);
        var f = floatRunner.RunAll(data);
        var q = int4Runner.RunAll(data);
        var logits = f.Values[0];
        var classes = f.PerSample[0];
        double maxDiff = 0, maxAbs = 0;
        var agree = 0;
        for (var s = 0; s < logits.Length / classes; s++)
        {
            var a = logits.AsSpan(s * classes, classes);
            var b = q.Values[0].AsSpan(s * classes, classes);
            for (var c = 0; c < classes; c++) { maxDiff = Math.Max(maxDiff, Math.Abs(a[c] - b[c])); maxAbs = Math.Max(maxAbs, Math.Abs(a[c])); }
            if (ArgMax(a) == ArgMax(b)) agree++;
        }
        var agreement = 100.0 * agree / (logits.Length / classes);
        Assert.True(agreement >= MinAgreement, $"agreement {agreement:0.00}%");
        Assert.True(maxDiff <= MaxRelativeLogitDifference * maxAbs, $"largest logit difference {maxDiff} vs largest logit {maxAbs}");
    }

    static int ArgMax(ReadOnlySpan<float> v)
    {
        var best = 0;
        for (var i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    [Theory]
    [MemberData(nameof(Students))]
    public void The_same_student_gives_the_same_int4_bytes(string student)
    {
        var path = Case(student).Model;
        Assert.Equal(OnnxModelAccess.Serialize(Int4(path)), OnnxModelAccess.Serialize(Int4(path)));
    }

    static CompressionRecipe Recipe(string student, string output, string quantize)
    {
        var (path, calibration, test, labels) = Case(student);
        return new CompressionRecipe { Teacher = path, Output = output, Quantize = quantize, CalibrationData = calibration, EvaluationData = test, EvaluationLabels = labels };
    }

    /// <summary>The largest initializer of the written model, and whether it is a float table read by a Gather.</summary>
    static (TensorProto Tensor, bool FloatEmbedding) Largest(string path)
    {
        var model = OnnxModelAccess.Load(path);
        var largest = model.Graph.Initializer.MaxBy(t => ModelBuild.Onnx.Tensors.TensorData.ByteCount(t))!;
        var gathered = model.Graph.Node.Where(n => n.OpType is "Gather" or "EmbedLayerNormalization").SelectMany(n => n.Input).ToHashSet();
        return (largest, OnnxModelAccess.IsFloat(largest) && gathered.Contains(largest.Name));
    }

    [Theory]
    [MemberData(nameof(Students))]
    public void Int4_weight_in_the_pipeline_leaves_no_float_embedding_table_as_the_largest_tensor(string student)
    {
        Assert.True(Largest(Case(student).Model).FloatEmbedding, "the float student's largest tensor is its embedding table");
        var dir = TempDir();
        var recipe = Recipe(student, Path.Combine(dir, "out.onnx"), "int4-weight");
        recipe.CalibrationData = null;
        recipe.Force = true; // about the form, not the latency fallback
        var report = Run(recipe);
        Assert.Equal("int4-weight", QuantizeDetails(report)["chosen"]!.GetValue<string>());
        var (tensor, floatEmbedding) = Largest(recipe.Output);
        Assert.False(floatEmbedding, $"largest tensor {tensor.Name} is still a float embedding table");
        var model = OnnxModelAccess.Load(recipe.Output);
        Assert.Contains(model.Graph.Node, n => n.OpType == "GatherBlockQuantized");
        var nbits = model.Graph.Node.Where(n => n.OpType == "MatMulNBits").ToList();
        Assert.NotEmpty(nbits);
        Assert.All(nbits, n => Assert.Equal(4, OnnxModelAccess.GetInt(n, "accuracy_level")));
        // Attention stayed unfused for int4 so that MatMulNBits reached the Q/K/V projections: no float MatMul weight is left.
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "Attention");
        // The optimize stage says why, from the optimizer's own count of the Attention matches it did not keep.
        var notes = report.Stages.Single(s => s.Name == "optimize").Details!["notes"]!.AsArray().Select(n => n!.GetValue<string>());
        Assert.Contains(notes, n => n.StartsWith("attention left unfused: int4-weight has no form", StringComparison.Ordinal));
        Assert.DoesNotContain(QuantizableNode.Find(model.Graph), n => n.Kind is QuantizableKind.MatMulWeight or QuantizableKind.Gemm or QuantizableKind.GatherEmbedding);
        Assert.True(report.Result.Bytes * 4 < report.Teacher.Bytes, $"{report.Result.Bytes} B vs {report.Teacher.Bytes} B");
    }

    [Fact]
    public void Auto_prefer_size_tries_int4_and_keeps_the_smallest_passing_candidate()
    {
        var dir = TempDir();
        var recipe = Recipe("synthetic-student", Path.Combine(dir, "out.onnx"), "auto");
        recipe.Prefer = "size";
        recipe.Force = true; // the latency gate is not what this test is about; the choice by size is
        recipe.MaxAccuracyDrop = 1.0;
        recipe.MinAgreement = 97;
        var report = Run(recipe, latencyRuns: 20);
        var details = QuantizeDetails(report);
        Assert.Equal("size", details["prefer"]!.GetValue<string>());
        var candidates = details["candidates"]!.AsArray().Select(c => c!.AsObject()).ToList();
        Assert.Contains(candidates, c => c["form"]!.GetValue<string>() == "int4-weight");
        var chosen = details["chosen"]!.GetValue<string>();
        // Recomputed here from the figures and the test's own gates: nothing accurate is smaller beyond the 3% noise.
        var accurate = candidates.Where(c => c["agreement"]!.GetValue<double>() >= 97 && report.Teacher.Accuracy - c["accuracy"]!.GetValue<double>() <= 1.0).ToList();
        Assert.NotEmpty(accurate);
        var kept = Assert.Single(candidates, c => c["form"]!.GetValue<string>() == chosen);
        Assert.DoesNotContain(accurate, c => c["bytes"]!.GetValue<long>() * 1.03 < kept["bytes"]!.GetValue<long>());
        Assert.Equal(kept["bytes"]!.GetValue<long>(), new FileInfo(recipe.Output).Length);
        Assert.False(Largest(recipe.Output).FloatEmbedding, "the largest tensor is still a float embedding table");
    }

    [Fact]
    public void Prefer_with_an_explicit_form_warns_that_it_applies_only_to_auto()
    {
        var recipe = Recipe("synthetic-student", Path.Combine(TempDir(), "out.onnx"), "int8-weights");
        recipe.CalibrationData = null;
        recipe.Prefer = "size";
        var report = Run(recipe);
        Assert.Contains(report.Warnings, w => w.StartsWith("MB0218") && w.Contains("only to --quantize auto"));
        Assert.Equal("int8-weights", QuantizeDetails(report)["chosen"]!.GetValue<string>());
    }

    [Fact]
    public void Prefer_size_chooses_the_smallest_passing_candidate_and_latency_the_fastest()
    {
        QuantizationCandidate C(string form, long bytes, double ratio, string? failure = null) =>
            new() { Form = form, Path = form, Bytes = bytes, LatencyRatioToFloat = ratio, AccuracyFailure = failure };
        QuantizationCandidate[] candidates = [C("fast", 1000, 0.5), C("small", 400, 0.9), C("smaller-but-inaccurate", 300, 0.9, "drop"), C("almost-as-small", 410, 0.7)];
        Assert.Equal("fast", AutoQuantizer.Choose(candidates)!.Form);
        // 410 B is within 3% of 400 B and faster.
        Assert.Equal("almost-as-small", AutoQuantizer.Choose(candidates, preferSize: true)!.Form);
        Assert.Equal("small", AutoQuantizer.Choose(candidates[..3], preferSize: true)!.Form);
    }
}
