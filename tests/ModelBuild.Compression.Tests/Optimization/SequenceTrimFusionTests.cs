using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Optimization;
using ModelBuild.Onnx;
using Onnx;
using static ModelBuild.Compression.Tests.TestMaterials;

namespace ModelBuild.Compression.Tests.Optimization;

/// <summary>
/// The sequence trim on the real shared transformers: after the Attention fusion, the graph slices its padded [B,S]
/// inputs to the longest row's tokens at run time (seen in the shape of an inner value), with outputs within 1e-4 of
/// the original's one row at a time (where the trim cuts the most) and in batches; a graph that sums over padded
/// positions without the mask is left as it is.
/// </summary>
public class SequenceTrimFusionTests
{
    const double Tolerance = 1e-4;

    static string Synthetic(string file) => Path.Combine(Teacher("synthetic-intent-transformer"), file);
    static string Bert(string file) => Path.Combine(Teacher("intent-bert"), file);

    static InputSet Read(string data, string model) => DataSource.ReadInputSet(data, new DataReadOptions().ForModel(model));

    /// <summary>The auto set (it ends with the trim), or every fusion (EmbedLayerNormalization and SkipLayerNormalization too).</summary>
    static IReadOnlyList<IGraphFusion> WithTrim(bool all = false) => FusionRegistry.For(all ? "all" : "auto");

    /// <summary>The longest row's token count in the first <paramref name="rows"/> rows (1 + last position not padding).</summary>
    static long Length(InputSet data, string keepInput, int rows)
    {
        var t = data.IsSingle ? data.Single() : data.Find(keepInput)!;
        var s = (int)t.Shape[1];
        var values = t.Int64s!;
        long longest = 0;
        for (var r = 0; r < rows; r++)
            for (var p = 0; p < s; p++)
                if (values[r * s + p] != 0) longest = Math.Max(longest, p + 1);
        return longest;
    }

    /// <summary>The same model with the first fused Attention's output as an extra graph output.</summary>
    static string ExposeFirstAttention(string path)
    {
        var model = OnnxModel.Load(path);
        var attention = model.Graph.Nodes.First(n => n.OpType == "Attention");
        model.GraphProto.Output.Add(new ValueInfoProto
        {
            Name = attention.Output[0],
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
        });
        var exposed = Path.Combine(TempDir(), "exposed.onnx");
        model.Save(exposed);
        return exposed;
    }

    [Theory]
    [InlineData("synthetic-intent-transformer", "teacher.onnx", "calib_x.npy", "test_x.npy", "input", false)]
    [InlineData("synthetic-intent-transformer", "student_kd.onnx", "calib_x.npy", "test_x.npy", "input", false)]
    [InlineData("intent-bert", "teacher.onnx", "calib.npz", "test.npz", "attention_mask", false)]
    [InlineData("synthetic-intent-transformer", "teacher.onnx", "calib_x.npy", "test_x.npy", "input", true)]
    [InlineData("intent-bert", "teacher.onnx", "calib.npz", "test.npz", "attention_mask", true)]
    public void A_padded_transformer_runs_on_its_tokens_only_with_the_same_outputs(string teacher, string file, string verify, string check, string keepInput, bool all)
    {
        var model = Path.Combine(Teacher(teacher), file);
        var dir = TempDir();
        var output = Path.Combine(dir, "trimmed.onnx");
        var result = new GraphOptimizer(WithTrim(all)).Optimize(model, Read(Path.Combine(Teacher(teacher), verify), model).Take(64), output, Path.Combine(dir, "work"));
        var trim = result.Fusions.Single(f => f.Name == "SequenceTrim");
        Assert.True(trim.Kept, trim.Note);
        Assert.Equal(1, trim.Matches);
        var graph = OnnxModel.Load(output).Graph;
        var inputs = graph.RealInputs().Select(i => i.Name).ToList();
        // Every [B,S] input is read through a Slice on the sequence axis, and only there.
        foreach (var input in inputs)
            Assert.All(graph.GetConsumers(input).Where(c => c.OpType is not ("Equal" or "Cast")), c => Assert.Equal("Slice", c.OpType));

        var data = Read(Path.Combine(Teacher(teacher), check), model);
        // Batches of 64 (the longest row of each batch sets the length) and single rows (the trim cuts the most).
        Assert.True(MaxDifference(model, output, data) <= Tolerance);
        Assert.True(MaxDifference(model, output, data.Take(40), batch: 1) <= Tolerance);

        // The attention ran on the first row's tokens, not on the padded 32 positions.
        using var exposed = new ModelRunner(ExposeFirstAttention(output));
        var row = exposed.CreateInputs(exposed.Bind(data, "data"), 0, 1);
        using var options = new RunOptions();
        using var outputs = exposed.Session.Run(options, exposed.InputNames, row, exposed.OutputNames.ToArray());
        var shape = outputs[^1].GetTensorTypeAndShape().Shape;
        var length = Length(data, keepInput, 1);
        Assert.True(length < 32, $"the first test row of {teacher} is not padded");
        Assert.Equal([1L, length, shape[2]], shape);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_keep_is_computed_once_and_its_trimmed_values_are_sliced_from_it(bool dynamicLength)
    {
        // The synthetic student (the sample's graph) keeps = Not(Equal(ids, pad)). The trim computes it once, on the
        // untrimmed ids (L = ReduceMax(Cast(keep) * [1..S])), and slices it for the mask and the pooling, instead of
        // a copy of the keep's nodes plus Cast/Cast/Shape/Gather/Add/Range/Mul/Reshape; [1..S] is a constant when S is
        // fixed, a Range over the keep's shape when it is not.
        var model = Synthetic("student_kd.onnx");
        if (dynamicLength)
        {
            var edited = OnnxModel.Load(model);
            var dim = edited.GraphProto.Input.Single().Type.TensorType.Shape.Dim[1];
            dim.ClearDimValue();
            dim.DimParam = "sequence";
            model = Path.Combine(TempDir(), "student-dynamic-length.onnx");
            edited.Save(model);
        }
        var dir = TempDir();
        var output = Path.Combine(dir, "trimmed.onnx");
        // The keep as the trim leaves it: NotEqualZeroAsCast, after it, turns Not(Equal(ids, 0)) into one Cast.
        var fusions = WithTrim().Where(f => f is not NotEqualZeroAsCast).ToList();
        var result = new GraphOptimizer(fusions).Optimize(model, Read(Synthetic("calib_x.npy"), model).Take(64), output, Path.Combine(dir, "work"));
        var trim = result.Fusions.Single(f => f.Name == "SequenceTrim");
        Assert.True(trim.Kept, trim.Note);

        var graph = OnnxModel.Load(output).Graph;
        var input = graph.RealInputs().Single().Name;
        var equal = Assert.Single(graph.Nodes, n => n.OpType == "Equal");
        Assert.Equal(input, equal.Input[0]);
        var not = Assert.Single(graph.Nodes, n => n.OpType == "Not");
        Assert.Equal(dynamicLength ? ["Cast", "Shape", "Slice"] : ["Cast", "Slice"], graph.GetConsumers(not.Output[0]).Select(n => n.OpType).Order());
        // keep * [1..S] as Cast + Mul (cheaper than Where in ONNX Runtime), then ReduceMax.
        var cast = graph.GetConsumers(not.Output[0]).Single(n => n.OpType == "Cast");
        Assert.Equal((long)TensorProto.Types.DataType.Int64, cast.Attribute.Single(a => a.Name == "to").I);
        var mul = Assert.Single(graph.GetConsumers(cast.Output[0]));
        Assert.Equal("Mul", mul.OpType);
        Assert.Equal("ReduceMax", Assert.Single(graph.GetConsumers(mul.Output[0])).OpType);
        Assert.DoesNotContain(graph.Nodes, n => n.OpType is "Where" or "Reshape" && n.Input.Any(i => i.StartsWith("SequenceTrim", StringComparison.Ordinal)));
        Assert.Equal(dynamicLength ? 1 : 0, graph.Nodes.Count(n => n.OpType is "Range"));
        // The student's mask and pooling read the sliced keep; only the keep's nodes and one Slice read the raw ids.
        Assert.Equal(["Equal", "Slice"], graph.GetConsumers(input).Select(n => n.OpType).Order());

        var data = Read(Synthetic("test_x.npy"), model);
        Assert.True(MaxDifference(model, output, data) <= Tolerance);
        Assert.True(MaxDifference(model, output, data.Take(40), batch: 1) <= Tolerance);
    }

    [Fact]
    public void A_sequence_laid_constant_inside_the_keep_is_not_sliced_since_the_keep_reads_the_untrimmed_inputs()
    {
        // keep = And(Not(Equal(ids, pad)), valid[1,S]): the keep is computed on the whole S, so slicing valid to L would
        // make And broadcast [B,S] against [1,L], which ONNX Runtime rejects whenever 1 < L < S.
        var model = OnnxModel.Load(Synthetic("student_kd.onnx"));
        var g = model.Graph;
        var not = g.Nodes.Single(n => n.OpType == "Not");
        var s = model.GraphProto.Input.Single().Type.TensorType.Shape.Dim[1].DimValue;
        var valid = new TensorProto { Name = "valid_positions", DataType = (int)TensorProto.Types.DataType.Bool, Dims = { 1, s } };
        valid.Int32Data.AddRange(Enumerable.Repeat(1, (int)s));
        model.GraphProto.Initializer.Add(valid);
        var readers = g.GetConsumers(not.Output[0]).ToList();
        var and = new NodeProto { OpType = "And", Name = "keep_and_valid", Input = { not.Output[0], "valid_positions" }, Output = { "keep_and_valid_out" } };
        foreach (var reader in readers)
            for (var i = 0; i < reader.Input.Count; i++)
                if (reader.Input[i] == not.Output[0]) reader.Input[i] = "keep_and_valid_out";
        model.GraphProto.Node.Insert(model.GraphProto.Node.IndexOf(not) + 1, and);
        g.Invalidate();
        var edited = Path.Combine(TempDir(), "keep-with-constant.onnx");
        model.Save(edited);

        var dir = TempDir();
        var output = Path.Combine(dir, "out.onnx");
        var result = new GraphOptimizer(WithTrim()).Optimize(edited, Read(Synthetic("calib_x.npy"), edited).Take(64), output, Path.Combine(dir, "work"));
        var trim = result.Fusions.Single(f => f.Name == "SequenceTrim");
        Assert.True(trim.Kept, trim.Note);
        var andNode = OnnxModel.Load(output).Graph.Nodes.Single(n => n.OpType == "And");
        Assert.Equal("valid_positions", andNode.Input[1]);
        // One row at a time: L below S for most rows.
        Assert.True(MaxDifference(edited, output, Read(Synthetic("test_x.npy"), edited).Take(40), batch: 1) <= Tolerance);
    }

    [Fact]
    public void A_sum_over_padded_positions_without_the_mask_is_not_trimmed()
    {
        // The synthetic teacher's mean pooling sums Mul(hidden, keep); summing the hidden states themselves makes the
        // padded positions count, so dropping them would change the output.
        var model = OnnxModel.Load(Synthetic("teacher.onnx"));
        var g = model.Graph;
        var pooled = g.Nodes.Single(n => n.OpType == "ReduceSum" && g.GetProducer(n.Input[0])?.OpType == "Mul");
        pooled.Input[0] = g.GetProducer(pooled.Input[0])!.Input[0];
        g.Invalidate();
        var edited = Path.Combine(TempDir(), "unmasked-sum.onnx");
        model.Save(edited);

        var dir = TempDir();
        var result = new GraphOptimizer(WithTrim()).Optimize(edited, Read(Synthetic("calib_x.npy"), edited).Take(64), Path.Combine(dir, "out.onnx"), Path.Combine(dir, "work"));
        Assert.True(result.Fusions.Single(f => f.Name == "Attention").Kept);
        var trim = result.Fusions.Single(f => f.Name == "SequenceTrim");
        Assert.Equal(0, trim.Matches);
        Assert.DoesNotContain(OnnxModel.Load(Path.Combine(dir, "out.onnx")).Graph.Nodes, n => n.OpType == "Slice");
    }

    [Fact]
    public void Without_a_fused_attention_mask_there_is_nothing_to_trim_against()
    {
        // Attention left unfused (--optimize with the Attention rewrite dropped): no mask is proven to cover every attention.
        var dir = TempDir();
        var model = Synthetic("teacher.onnx");
        var fusions = FusionRegistry.All().Where(f => f is not AttentionFusion).ToList();
        var result = new GraphOptimizer(fusions).Optimize(model, Read(Synthetic("calib_x.npy"), model).Take(32), Path.Combine(dir, "out.onnx"), Path.Combine(dir, "work"));
        Assert.Equal(0, result.Fusions.Single(f => f.Name == "SequenceTrim").Matches);
    }

    static double MaxDifference(string a, string b, InputSet data, int batch = 64) => OutputDifference.Max(a, b, data, batch);
}
