using ModelBuild.Compression.Distillation;
using ModelBuild.Compression.Pipeline;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx;
using Onnx;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>
/// The learning rate when none is given (<see cref="LearningRateDefaults"/>): 0.01 for an MLP student from fresh
/// weights (a derived MLP student always is), 0.001 for every other student, and the rate reported is the rate trained with.
/// </summary>
[Collection(TorchTrainingCollection.Name)]
public sealed class LearningRateDefaultsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("mb-lrdefault-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static readonly TeacherCase Wine = new("wine-mlp");

    DistillationResult DistillWine(string name, double? learningRate = null, bool reinitialize = true, bool derived = false, bool quantizationAware = false, int? synthetic = null) =>
        StudentDistiller.Distill(new DistillationOptions
        {
            TeacherPath = Wine.Teacher, StudentPath = derived ? null : Wine.StudentScratch, StudentWidth = derived ? 0.5 : null,
            Reinitialize = reinitialize, QuantizationAware = quantizationAware, LearningRate = learningRate, Synthetic = synthetic,
            OutputPath = Path.Combine(_dir, name), TrainingData = Wine.File("train_x.npy"), TrainingLabels = Wine.File("train_y.npy"),
            ValidationFraction = 0.1, Epochs = 3, BatchSize = 32, Seed = 1, Threads = 1,
        });

    [Fact]
    public void An_mlp_student_from_fresh_weights_trains_at_0_01_unless_told()
    {
        var fresh = DistillWine("fresh.onnx");
        Assert.Equal(0.01, fresh.LearningRate);
        // The rate is the one trained with, not only the one reported: the same bytes as asking for 0.01, others than 0.001.
        var asked = DistillWine("asked.onnx", learningRate: 0.01);
        var old = DistillWine("old.onnx", learningRate: 0.001);
        Assert.Equal(File.ReadAllBytes(asked.OutputPath), File.ReadAllBytes(fresh.OutputPath));
        Assert.NotEqual(File.ReadAllBytes(old.OutputPath), File.ReadAllBytes(fresh.OutputPath));

        Assert.Equal(0.01, DistillWine("derived.onnx", derived: true, reinitialize: false).LearningRate);
        Assert.Equal(0.002, DistillWine("given.onnx", learningRate: 0.002).LearningRate);
        Assert.Equal(0.01, DistillWine("qat.onnx", quantizationAware: true).LearningRate); // fresh weights too
        // A student file's own weights start from trained weights, and synthetic rows were not swept: the usual rate.
        Assert.Equal(0.001, DistillWine("file-weights.onnx", reinitialize: false).LearningRate);
        Assert.Equal(0.001, DistillWine("synthetic.onnx", synthetic: 200).LearningRate);
    }

    [Fact]
    public void Only_fully_connected_graphs_count_as_mlps()
    {
        static bool Mlp(string path) => LearningRateDefaults.IsFullyConnected(OnnxModel.Load(path).Proto.Graph);
        Assert.True(Mlp(Wine.StudentScratch));
        Assert.True(Mlp(new TeacherCase("breast-cancer-mlp").Teacher));
        Assert.True(Mlp(SharedMaterials.Path_("models", "iris-mlp-pytorch", "model.onnx")));
        Assert.True(Mlp(SharedMaterials.Path_("models", "genre-mlp-keras", "model.onnx"))); // MatMul + Add, Flatten, Softmax
        // Attention multiplies activations by activations; embeddings gather; convolutions convolve.
        Assert.False(Mlp(new TeacherCase("synthetic-intent-transformer").StudentScratch));
        Assert.False(Mlp(SharedMaterials.Teachers("intent-bert", "student_scratch.onnx")));
        Assert.False(Mlp(SharedMaterials.Path_("models", "mnist-cnn-pytorch", "model.onnx")));

        // Hand-made graphs: x [B, 4] times weight w [4, 4] (directly, or through Transpose/Cast as exports write tied or
        // fp16 weights) is a layer; a product of two activations (attention's scores) or a Gemm by an activation is not.
        static GraphProto Graph(params NodeProto[] nodes)
        {
            var g = new GraphProto();
            g.Initializer.Add(new TensorProto { Name = "w", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 4, 4 } });
            g.Node.AddRange(nodes);
            return g;
        }
        static NodeProto Node(string op, string output, params string[] inputs) => new() { OpType = op, Input = { inputs }, Output = { output } };
        Assert.True(LearningRateDefaults.IsFullyConnected(Graph(Node("MatMul", "h", "x", "w"), Node("Relu", "y", "h"))));
        Assert.True(LearningRateDefaults.IsFullyConnected(Graph(Node("Transpose", "wt", "w"), Node("Cast", "wc", "wt"), Node("MatMul", "y", "x", "wc"))));
        Assert.False(LearningRateDefaults.IsFullyConnected(Graph(Node("MatMul", "h", "x", "w"), Node("MatMul", "y", "h", "x"))));
        Assert.False(LearningRateDefaults.IsFullyConnected(Graph(Node("MatMul", "h", "x", "w"), Node("Gemm", "y", "x", "h"))));
        Assert.False(LearningRateDefaults.IsFullyConnected(Graph(Node("Relu", "y", "x")))); // no layer at all
        var ids = Graph(Node("Cast", "xf", "x"), Node("MatMul", "y", "xf", "w")); // integer features, cast to float
        ids.Input.Add(new ValueInfoProto { Name = "x", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Int64 } } });
        Assert.False(LearningRateDefaults.IsFullyConnected(ids));
        ids.Input[0].Type.TensorType.ElemType = (int)TensorProto.Types.DataType.Float;
        Assert.True(LearningRateDefaults.IsFullyConnected(ids));
    }

    [Fact]
    public void The_recipe_leaves_the_rate_unset_for_the_distiller_to_choose()
    {
        Assert.Null(DistillStage.Options(new CompressionRecipe { Distill = true }, "t.onnx", "o.onnx", 1).LearningRate);
        Assert.Equal(0.003, DistillStage.Options(new CompressionRecipe { Distill = true, LearningRate = 0.003 }, "t.onnx", "o.onnx", 1).LearningRate);
        // The stage report gives the rate trained with, not the unset setting.
        var recipe = new CompressionRecipe
        {
            Teacher = Wine.Teacher, Output = Path.Combine(_dir, "stage.onnx"), Distill = true, Student = Wine.StudentScratch, Reinitialize = true,
            TrainingData = Wine.File("train_x.npy"), TrainingLabels = Wine.File("train_y.npy"), Epochs = 2, Seed = 1,
        };
        var details = new CompressionPipeline(StageCatalog.All()) { LatencyRuns = 0 }.Run(recipe, new WorkerProtocolLog(TextWriter.Null)).Stages[0].Details!;
        Assert.Equal(0.01, details["learningRate"]!.GetValue<double>());
        // Pruning recovery keeps its own rate.
        Assert.Equal(0.001, ModelBuild.Compression.Pruning.PruneStage.RecoveryTraining(new CompressionRecipe(), 1).LearningRate);
    }
}
