namespace ModelBuild.Compression.Pipeline.SessionTuning;

/// <summary>
/// Times one round of a candidate: the median microseconds of a few batch-1 runs. The real probe runs ONNX Runtime
/// (<see cref="OrtSessionLatencyProbe"/>); tests give the tuner fixed figures, so its choice is checked without timing.
/// </summary>
public interface ISessionLatencyProbe
{
    double MeasureRound(SessionCandidate candidate);
}
