using System.Text.Json.Nodes;
using ModelBuild.Compression.Pipeline.Contract;

namespace ModelBuild.Compression.Tests.Pruning;

/// <summary>
/// Per-step evaluation (<c>--eval-data</c>) while pruning intent-bert, a three-input model: the evaluator feeds
/// input_ids, attention_mask and token_type_ids by name, from test.npz or from test.tsv through the tokenizer, and the
/// two give the same per-step figures (the tokenizer path reproduces test.npz). No recovery training: prune only.
/// </summary>
[Collection(ModelBuild.Compression.Tests.Distillation.TorchTrainingCollection.Name)]
public sealed class BertPruningEvaluationTests
{
    static string T(string file) => Path.Combine(TestMaterials.Teacher("intent-bert"), file);

    static JsonArray PruneSteps(Action<CompressionRecipe> data)
    {
        var dir = TestMaterials.TempDir();
        var recipe = new CompressionRecipe { Teacher = T("teacher.onnx"), Output = Path.Combine(dir, "out.onnx"), Prune = 0.3, PruneSteps = 2 };
        data(recipe);
        var report = TestMaterials.Run(recipe);
        return report.Stages.Single(s => s.Name == "prune").Details!["steps"]!.AsArray();
    }

    static double? Accuracy(JsonNode? step) => step!["accuracy"]?.GetValue<double>();

    [Fact]
    public void Eval_data_from_npz_and_from_text_scores_every_pruning_step_of_the_three_input_model()
    {
        var npz = PruneSteps(r => { r.EvaluationData = T("test.npz"); r.EvaluationLabels = T("test_y.npy"); });
        Assert.Equal(3, npz.Count); // step 0 (the input model) and the two pruning steps
        // Step 0 is the unpruned teacher: its accuracy on test is reference.json's (86.667%, 1040 of 1200).
        var teacher = JsonNode.Parse(File.ReadAllText(T("reference.json")))!["teacher"]!["test_acc"]!.GetValue<double>() * 100;
        Assert.Equal(teacher, Accuracy(npz[0])!.Value, 0.01);
        Assert.All(npz, s => Assert.NotNull(Accuracy(s)));

        var text = PruneSteps(r =>
        {
            r.EvaluationData = T("test.tsv");
            r.TextColumn = "text"; r.LabelColumn = "intent"; r.Labels = T("labels.json"); r.Tokenizer = T("vocab.txt");
        });
        Assert.Equal(npz.Select(Accuracy), text.Select(Accuracy));
    }
}
