using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Teachers;

/// <summary>The teacher as an ONNX file, run once over the training rows with ONNX Runtime; its first output is the logits.</summary>
internal sealed class OnnxFileTeacher(OrtTensorBridge session) : IDistillationTeacher
{
    public TeacherAnswers Answer(TrainingInputs inputs) => new(session.RunBatched(inputs, 512), null);

    public void Dispose() => session.Dispose();
}
