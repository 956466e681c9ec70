using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Compression.Quantization;
using Onnx;
using Xunit.Abstractions;

namespace ModelBuild.Compression.Tests;

/// <summary>
/// int4-weight on one plain <c>y = x[4,K] @ W[K,N]</c>, <c>W = sin(i)</c> (i the flat index), through the whole product
/// and run in ONNX Runtime against the float model, for K below, at, between and above multiples of the 32-block and a
/// narrow and a wide N: a wrong MatMulNBits layout (padding of the last block, nibble order, the [N, blocks, 16]
/// transpose of W, the scales' order) puts the weights ONNX Runtime reads several steps off. The output is measured on
/// activations unrelated to W: on a structured x (cos or sin of the index) the float output of W's sinusoidal columns
/// nearly cancels while the rounding error does not, so int4's output SQNR falls to 3-16 dB and int8-dynamic's to ~30 dB
/// with a correct layout (the weights themselves stay at 23 dB): that figure says nothing about the layout.
/// </summary>
public sealed class Int4MatMulLayoutTests(ITestOutputHelper output)
{
    /// <summary>
    /// SQNR floor, for the weights ONNX Runtime reads and for the output. Symmetric 4-bit blocks put the block's largest |w| (about 1 for sin of integers) at code -8:
    /// step 1/8, rounding noise 1/8^2/12 = 1/768 against the weights' power 1/2 (sin of integers), 26 dB; the clamp of
    /// the opposite extreme to +7 (up to one step for the ~12% of values beyond 7.5 steps) costs a few dB, and the int8
    /// activations of accuracy_level 4 (about 40 dB) less than one. Each output sums K such products with independent
    /// errors, so the ratio holds per output: about 22-25 dB expected; 15 dB leaves room for the few blocks of small K.
    /// </summary>
    const double FloorDb = 15;

    public static TheoryData<int, int> Shapes
    {
        get
        {
            var data = new TheoryData<int, int>();
            foreach (var k in new[] { 16, 32, 48, 64, 128 })
                foreach (var n in new[] { 8, 64 }) data.Add(k, n);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Int4_weight_keeps_a_plain_matmul_within_the_4_bit_step_of_float(int k, int n)
    {
        var (teacher, quantized) = Compress(k, n);
        var nbits = Assert.Single(OnnxModelAccess.Load(quantized).Graph.Node, node => node.OpType == "MatMulNBits");
        Assert.Equal(k, OnnxModelAccess.GetInt(nbits, "K"));
        Assert.Equal(n, OnnxModelAccess.GetInt(nbits, "N"));
        var w = Weights(k, n);
        // x = I_K: ONNX Runtime returns W as its kernel reads it; each weight within one step of its block (half a step
        // of rounding, up to one where the clamp to +7 bites). A scrambled layout misses by several steps.
        var identity = new float[k * k];
        for (var i = 0; i < k; i++) identity[i * k + i] = 1;
        var read = Run(quantized, identity, k, k);
        var scales = OnnxModelAccess.ReadFloats(OnnxModelAccess.Initializers(OnnxModelAccess.Load(quantized).Graph)[nbits.Input[2]]);
        var blocks = (k + Int4WeightQuantizer.BlockSize - 1) / Int4WeightQuantizer.BlockSize;
        for (var r = 0; r < k; r++)
            for (var c = 0; c < n; c++)
            {
                var step = Math.Abs(scales[c * blocks + r / Int4WeightQuantizer.BlockSize]);
                Assert.True(Math.Abs(read[r * n + c] - w[r * n + c]) <= step * 1.001 + 1e-6,
                    $"K={k} N={n}: W[{r},{c}] = {w[r * n + c]} read back as {read[r * n + c]} (step {step})");
            }
        var weightSqnr = Metrics.Sqnr(w, read);
        output.WriteLine($"K={k} N={n}: weights as ONNX Runtime reads them {weightSqnr:0.0} dB");
        Assert.True(weightSqnr >= FloorDb, $"K={k} N={n}: int4 weights as ONNX Runtime reads them: SQNR {weightSqnr:0.0} dB < {FloorDb} dB");
        // The output on activations with no structure shared with W (the float output sums K products without cancelling).
        foreach (var seed in new[] { 1, 2, 3 })
        {
            var x = TestMaterials.Random(4 * k, seed, lo: -1, hi: 1);
            var outputSqnr = Metrics.Sqnr(Run(teacher, x, 4, k), Run(quantized, x, 4, k));
            output.WriteLine($"K={k} N={n} seed {seed}: output {outputSqnr:0.0} dB");
            Assert.True(outputSqnr >= FloorDb, $"K={k} N={n} seed {seed}: int4-weight output SQNR {outputSqnr:0.0} dB < {FloorDb} dB");
        }
    }

    static float[] Weights(int k, int n) => Enumerable.Range(0, k * n).Select(i => MathF.Sin(i)).ToArray();

    static (string Teacher, string Output) Compress(int k, int n)
    {
        var dir = TestMaterials.TempDir();
        var teacher = Path.Combine(dir, "matmul.onnx");
        OnnxModelAccess.Save(PlainMatMul(k, n), teacher);
        var recipe = new CompressionRecipe
        {
            Teacher = teacher, Output = Path.Combine(dir, "int4.onnx"), Quantize = Int4WeightQuantizer.FormName, Force = true,
        };
        TestMaterials.Run(recipe);
        return (teacher, recipe.Output);
    }

    static float[] Run(string model, float[] x, int m, int k)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [m, k]))]);
        return results.First().AsEnumerable<float>().ToArray();
    }

    /// <summary>x [4,K] @ W [K,N] -> y [4,N], W = sin(flat index).</summary>
    internal static ModelProto PlainMatMul(int k, int n)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "test" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        var g = model.Graph = new GraphProto { Name = "plain" };
        g.Input.Add(Value("x", "M", k));
        g.Output.Add(Value("y", "M", n));
        g.Initializer.Add(OnnxModelAccess.FloatTensor("W", Weights(k, n), k, n));
        g.Node.Add(OnnxModelAccess.Node("MatMul", "matmul", ["x", "W"], ["y"]));
        return model;
    }

    static ValueInfoProto Value(string name, string rows, long width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = rows });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }
}
