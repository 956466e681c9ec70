using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Teachers;

/// <summary>
/// Where the training targets come from: an ONNX teacher run locally (<see cref="OnnxFileTeacher"/>) or a model that
/// can only be called (<see cref="EndpointTeacher"/>). The trainer asks once for the answers on every training row and
/// does not care which it is.
/// </summary>
internal interface IDistillationTeacher : IDisposable
{
    /// <summary>The teacher's answers for <paramref name="inputs"/> (rows on axis 0), in row order.</summary>
    TeacherAnswers Answer(TrainingInputs inputs);
}

/// <summary>
/// A teacher's answers: class scores [rows, classes] (logits, or log-probabilities for a teacher that gives
/// probabilities, which soften with a temperature exactly as logits do), or only its predicted classes [rows]
/// (hard-label KD). Exactly one is set.
/// </summary>
internal sealed record TeacherAnswers(Tensor? Logits, Tensor? Labels, TeacherCalls? Calls = null)
{
    /// <summary>The teacher's class per row: the arg-max of the scores, or the labels.</summary>
    public Tensor PredictedClasses() => Labels ?? Logits!.reshape(Logits.shape[0], -1).argmax(-1);
}

/// <summary>What answering cost an endpoint teacher: HTTP requests made (retries included), batches answered from the cache, wall time.</summary>
public sealed record TeacherCalls(string Endpoint, string Answer, int Batches, int CallsMade, int CallsCached, int Retries, double Seconds)
{
    /// <summary>Both askings together (training rows, then validation rows from their own file); null when neither was an endpoint's.</summary>
    public static TeacherCalls? Sum(TeacherCalls? a, TeacherCalls? b) => a is null || b is null ? a ?? b
        : a with { Batches = a.Batches + b.Batches, CallsMade = a.CallsMade + b.CallsMade, CallsCached = a.CallsCached + b.CallsCached, Retries = a.Retries + b.Retries, Seconds = a.Seconds + b.Seconds };
}
