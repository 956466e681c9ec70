using ModelBuild.Compression.Distillation.Import;
using TorchSharp;
using static TorchSharp.torch;
using ModelBuild.Compression.Tests.Distillation;

namespace ModelBuild.Compression.Tests.Native;

/// <summary>
/// The dynamic side of ScalarLifetimeTests: the importer's forward pass runs while another thread collects garbage
/// and runs finalizers without pause, which turns a temporary TorchSharp Scalar's early free from rare into likely.
/// On the engine before KeptScalar this failed with the error the build saw now and then, c10::Scalar's "Expected false
/// to be true" (after 1 min 22 s of the 2,000 passes in the run that checked it); raw <c>x.mul(0.5).add(1.0)</c> calls
/// in such a loop crash the test host outright.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class ScalarGcStormTests
{
    public ScalarGcStormTests() => ModelBuild.Compression.Native.LibTorchLoader.EnsureLoaded();

    /// <summary>
    /// KeptScalar never frees what it holds, so only constants may go through it. Quantization-aware training moves
    /// each activation's range every step; its scalars went through KeptScalar at first (about 3 new entries per
    /// tensor and step, found in review), which over a real run is millions of native values never freed.
    /// </summary>
    [Fact]
    public void Quantization_aware_steps_do_not_grow_the_kept_scalars()
    {
        var quantization = new ModelBuild.Compression.Distillation.Losses.ActivationFakeQuantization(["a", "b"]);
        var random = new Random(5);
        void Steps(int count)
        {
            for (int i = 0; i < count; i++)
            {
                using var scope = torch.NewDisposeScope();
                foreach (var name in new[] { "a", "b" })
                    quantization.Apply(name, torch.tensor(Enumerable.Range(0, 16).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray()), training: true);
            }
        }
        Steps(10);
        int before = KeptCount();
        Steps(500);
        Assert.Equal(before, KeptCount());
    }

    /// <summary>How many scalars KeptScalar holds (read by reflection: the class is internal to the engine).</summary>
    private static int KeptCount()
    {
        var type = typeof(ModelBuild.Compression.Pipeline.CompressionPipeline).Assembly.GetType("ModelBuild.Compression.Native.KeptScalar", throwOnError: true)!;
        return type.GetFields(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
            .Select(f => f.GetValue(null)).OfType<System.Collections.ICollection>().Sum(c => c.Count);
    }

    /// <summary>
    /// The importer's forward pass, many times: each pass of the transformer student runs its Clip (the pooling's
    /// count), Gelu, Add and LayerNorm kernels, each of which handed libtorch a temporary Scalar before KeptScalar.
    /// </summary>
    [Fact]
    public void Forward_passes_under_a_garbage_collection_storm_give_the_same_outputs()
    {
        using var module = OnnxGraphImporter.Import(SharedMaterials.Teachers("synthetic-intent-transformer", "student_kd.onnx"));
        module.eval();
        using var noGrad = torch.no_grad();
        var rows = new long[2 * 32]; // two right-padded rows of the model's 32 positions
        new long[] { 5, 17, 42, 3 }.CopyTo(rows, 0);
        new long[] { 9, 8, 7, 6, 5, 4 }.CopyTo(rows, 32);
        using var ids = torch.tensor(rows, new long[] { 2, 32 });
        var inputs = new Dictionary<string, Tensor> { [module.InputNames[0]] = ids };
        float[] expected;
        using (var scope = torch.NewDisposeScope()) expected = module.Run(inputs)[module.OutputNames[0]].data<float>().ToArray();

        using var stop = new CancellationTokenSource();
        var storm = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }) { IsBackground = true, Name = "GC storm" };
        storm.Start();
        try
        {
            for (int i = 0; i < 2_000; i++)
            {
                using var scope = torch.NewDisposeScope();
                var got = module.Run(inputs)[module.OutputNames[0]].data<float>().ToArray();
                if (!got.SequenceEqual(expected)) Assert.Fail($"pass {i}: [{string.Join(", ", got)}] instead of [{string.Join(", ", expected)}]");
            }
        }
        finally
        {
            stop.Cancel();
            storm.Join();
        }
    }
}
