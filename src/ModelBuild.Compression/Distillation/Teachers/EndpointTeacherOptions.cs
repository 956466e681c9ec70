namespace ModelBuild.Compression.Distillation.Teachers;

/// <summary>
/// A teacher that can only be called: an HTTP(S) endpoint that takes a batch of inputs as JSON and answers logits,
/// probabilities or labels (the format is in docs/distillation.md). The secret, if any, is read from an environment
/// variable named here, so it never appears in a recipe, a command line, a log, the report or a cache key.
/// </summary>
public sealed record EndpointTeacherOptions
{
    /// <summary>The endpoint's absolute http(s) URL. Credentials belong in <see cref="TokenEnvironmentVariable"/>, not in the URL.</summary>
    public required string Url { get; init; }
    /// <summary>Environment variable holding the token sent with every request; null sends none.</summary>
    public string? TokenEnvironmentVariable { get; init; }
    /// <summary>Header carrying the token as is (e.g. <c>x-api-key</c>); null sends <c>Authorization: Bearer &lt;token&gt;</c>.</summary>
    public string? HeaderName { get; init; }
    /// <summary>Most HTTP requests (retries included) one run may make; null: no limit.</summary>
    public int? MaxCalls { get; init; }
    /// <summary>Rows per request.</summary>
    public int BatchSize { get; init; } = 64;
    /// <summary>Requests in flight at once.</summary>
    public int Concurrency { get; init; } = 4;
    /// <summary>Time one request may take (sending, waiting, reading the answer) before it counts as failed.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Retries of a request after a 408, 429, 5xx, connection failure or timeout.</summary>
    public int MaxRetries { get; init; } = 5;
    /// <summary>Delay before the first retry; it doubles for each further one (exponential back-off), unless the answer says Retry-After.</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Longest wait before a retry, Retry-After included.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Folder of the answers cache (one file per request, keyed by the URL and the request body); null: no cache.</summary>
    public string? AnswerCacheDirectory { get; init; }
}
