using System.Text.Json;
using ModelBuild.Compression.Data;

namespace ModelBuild.Compression.Tests.Distillation;

/// <summary>One ../shared/teachers case: file paths and the reference figures of reference.json.</summary>
internal sealed record TeacherCase(string Name)
{
    public string File(string name) => SharedMaterials.Teachers(Name, name);
    public string Teacher => File("teacher.onnx");
    public string StudentScratch => File("student_scratch.onnx");

    JsonElement Reference => JsonDocument.Parse(System.IO.File.ReadAllText(File("reference.json"))).RootElement;

    public double TestAccuracy(string model) => Reference.GetProperty(model).GetProperty("test_acc").GetDouble();

    public JsonElement StudentArchitecture => Reference.GetProperty("student_architecture");

    public JsonElement Train(string model) => Reference.GetProperty(model).GetProperty("train");

    /// <summary>Test accuracy of an ONNX model on the case's test split, with ONNX Runtime.</summary>
    public double OrtTestAccuracy(string modelPath) => OrtAccuracy(modelPath, File("test_x.npy"), File("test_y.npy"));

    /// <summary>Accuracy of an ONNX model on any (x, y) pair of .npy files, with ONNX Runtime.</summary>
    public static double OrtAccuracy(string modelPath, string xPath, string yPath)
    {
        var x = NpyArray.Read(xPath);
        var y = NpyArray.Read(yPath).ToInt64Array();
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(modelPath);
        using var input = x.Data is long[] ids
            ? Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(ids, x.Shape)
            : Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x.ToSingleArray(), x.Shape);
        using var run = new Microsoft.ML.OnnxRuntime.RunOptions();
        using var outputs = session.Run(run, new[] { session.InputNames[0] }, new[] { input }, new[] { session.OutputNames[0] });
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        int classes = logits.Length / y.Length, correct = 0;
        for (int i = 0; i < y.Length; i++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
            if (best == y[i]) correct++;
        }
        return (double)correct / y.Length;
    }

    /// <summary>
    /// The training split cut in two, written under <paramref name="dir"/>: every fifth row (a fixed, label-blind
    /// choice, so each class keeps about its share) is the validation part a recipe is chosen on; the rest is what
    /// the candidates train on. The test split is never looked at while choosing.
    /// </summary>
    public (string FitX, string FitY, string ValX, string ValY) HoldOutValidation(string dir)
    {
        var x = NpyArray.Read(File("train_x.npy"));
        var y = NpyArray.Read(File("train_y.npy")).ToInt64Array();
        var ids = x.ToInt64Array();
        int rows = (int)x.Rows, width = (int)x.RowLength;
        var fit = Enumerable.Range(0, rows).Where(i => i % 5 != 0).ToArray();
        var val = Enumerable.Range(0, rows).Where(i => i % 5 == 0).ToArray();
        string Save(string name, int[] pick, bool labels)
        {
            var path = Path.Combine(dir, name);
            if (labels) NpyArray.Create(pick.Select(i => y[i]).ToArray(), [pick.Length]).Save(path);
            else NpyArray.Create(pick.SelectMany(i => ids.Skip(i * width).Take(width)).ToArray(), [pick.Length, .. x.Shape.Skip(1)]).Save(path);
            return path;
        }
        return (Save("fit_x.npy", fit, false), Save("fit_y.npy", fit, true), Save("val_x.npy", val, false), Save("val_y.npy", val, true));
    }
}
