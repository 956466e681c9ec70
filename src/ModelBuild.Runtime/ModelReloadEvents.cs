namespace ModelBuild.Runtime;

/// <summary>A new generation of a model was loaded and swapped in.</summary>
public sealed class ModelReloadedEventArgs(string modelName, ModelInfo info, long previousGeneration) : EventArgs
{
    public string ModelName { get; } = modelName;
    public ModelInfo Info { get; } = info;
    public long PreviousGeneration { get; } = previousGeneration;
}

/// <summary>
/// A reload failed; the previous generation keeps serving (<see cref="ServingGeneration"/>), or, for a model that
/// still waits for its source (it never loaded), nothing does and <see cref="ServingGeneration"/> is 0.
/// </summary>
public sealed class ModelReloadFailedEventArgs(string modelName, Exception error, long servingGeneration) : EventArgs
{
    public string ModelName { get; } = modelName;
    public Exception Error { get; } = error;
    public long ServingGeneration { get; } = servingGeneration;
}
