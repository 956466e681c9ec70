namespace ModelBuild.Runtime;

/// <summary>What is currently serving under a model name.</summary>
public sealed record ModelInfo(
    string Name,
    string Source,
    long Generation,
    string Sha256,
    long SizeBytes,
    DateTimeOffset LoadedAt,
    IReadOnlyList<TensorInfo> Inputs,
    IReadOnlyList<TensorInfo> Outputs)
{
    /// <summary>The ONNX Runtime settings this generation's session was created with (see docs/runtime.md for the precedence).</summary>
    public EffectiveSessionSettings? Session { get; init; }
}

/// <summary>A model input or output: name, element type and shape (-1 for a dynamic dimension).</summary>
public sealed record TensorInfo(string Name, string ElementType, IReadOnlyList<long> Shape);

/// <summary>The serving state of a model, as the health check reports it.</summary>
public enum ModelState
{
    /// <summary>Loaded, and the last reload (if any) succeeded.</summary>
    Serving,
    /// <summary>Still serving the previous generation because the last reload failed.</summary>
    ServingStale,
    /// <summary>
    /// Not loaded: its source could not be read when the pool was created (a URI that did not answer, a file not there
    /// yet). Calls to it throw that error (same code); it loads when its source changes (a watched file, a URI poll),
    /// on <c>ReloadAsync</c>, or on a call or a status read (the health check) at most once a second. A model read
    /// later that does not fit the classes waits for the next source change. The other models serve meanwhile.
    /// </summary>
    WaitingForSource,
}

/// <summary>A model's state and last reload error.</summary>
public sealed record ModelStatus(string Name, ModelState State, long Generation, DateTimeOffset LoadedAt, string? LastError, DateTimeOffset? LastErrorAt);
