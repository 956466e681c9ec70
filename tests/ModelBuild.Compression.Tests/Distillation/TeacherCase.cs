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
    public double OrtTestAccuracy(string modelPath)
    {
        var x = NpyArray.Read(File("test_x.npy"));
        var y = NpyArray.Read(File("test_y.npy")).ToInt64Array();
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
}
