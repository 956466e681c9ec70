namespace ModelBuild.Tasks.Diagnostics;

/// <summary>
/// A user error found by the task (codes MB06xx, see docs/diagnostics.md): one line of cause and one of remedy,
/// naming the <c>&lt;CompressModel&gt;</c> item and, where it applies, the metadata at fault. The task logs it as an
/// MSBuild error with the code, so it is the same shape as the worker's <c>MBxxxx</c> errors.
/// </summary>
internal sealed class TaskDiagnosticException(string code, string cause, string remedy, string? file = null) : Exception(cause)
{
    public string Code { get; } = code;
    public string Cause { get; } = cause;
    public string Remedy { get; } = remedy;
    public string? File { get; } = file;
}

/// <summary>The MSBuild-integration codes, in one place so docs/diagnostics.md and the tests can be checked against it.</summary>
internal static class TaskCodes
{
    /// <summary>A metadata value is not one of the words the command line accepts.</summary>
    public const string UnknownValue = "MB0601";
    /// <summary>A file named by the item or one of its metadata does not exist.</summary>
    public const string MissingFile = "MB0602";
    /// <summary>A number metadata is not a number or is out of range.</summary>
    public const string BadNumber = "MB0603";
    /// <summary>The Recipe file is not valid JSON for a CompressionRecipe.</summary>
    public const string BadRecipe = "MB0604";
    /// <summary>The worker crashed (killed, unexpected exit code, or no report).</summary>
    public const string WorkerCrashed = "MB0605";
    /// <summary>The worker could not be started (dotnet host or worker files missing).</summary>
    public const string WorkerNotStarted = "MB0606";
    /// <summary>The result missed the quality gate (MaxAccuracyDrop / MinAgreement / MaxLatencyMicroseconds).</summary>
    public const string QualityGate = "MB0607";
    /// <summary>The worker rejected the input (exit 2) without saying why.</summary>
    public const string WorkerRejectedInput = "MB0608";
    /// <summary>Another build held the cache lock for too long.</summary>
    public const string CacheLockTimeout = "MB0609";
    /// <summary>Two items would write the same output file.</summary>
    public const string DuplicateOutput = "MB0610";
    /// <summary>An input file cannot be read while the key is computed.</summary>
    public const string InputUnreadable = "MB0611";
    /// <summary>The cache (or output) folder cannot be written: read-only, full, or not a folder.</summary>
    public const string CacheUnusable = "MB0612";
    /// <summary>A custom metadata name on the item is a near miss of a ModelBuild metadata name (a typo that would drop its setting).</summary>
    public const string MisspeltMetadata = "MB0613";
    /// <summary>OutputName (or the TargetPath it gives) is rooted or leads outside the output folder.</summary>
    public const string OutputOutsideFolder = "MB0614";
    /// <summary>The remote cache did not answer, or a lookup ran past its time limit (the worker uses the same code).</summary>
    public const string RemoteUnreachable = "MB0621";
    /// <summary>A local cache entry's files no longer match its manifest.</summary>
    public const string LocalEntryCorrupt = "MB0627";
    /// <summary>The remote lookup failed in an unexpected way.</summary>
    public const string RemoteStoreFailed = "MB0630";
}
