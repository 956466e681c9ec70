using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Distillation.Teachers;

/// <summary>The MB036x diagnostics of a teacher behind an HTTP endpoint. Messages name the URL without its query and never the token.</summary>
internal static class EndpointTeacherErrors
{
    public static ModelBuildException Failed(string url, int attempts, string lastFailure) => new("MB0360", $"The teacher endpoint {url} failed {attempts} time(s); the last answer was: {lastFailure}.", "Check that the endpoint is up and accepts the request format of docs/distillation.md (POST JSON {\"inputs\": {...}}), and the token variable (--teacher-endpoint-token-env).");

    public static ModelBuildException Refused(string url, string status) => new("MB0360", $"The teacher endpoint {url} refused the request: {status} (not retried: the same request would be refused again).", "Check the URL, the token (--teacher-endpoint-token-env, --teacher-endpoint-header) and that the endpoint accepts the request format of docs/distillation.md.");

    public static ModelBuildException TimedOut(string url, int attempts, TimeSpan timeout) => new("MB0361", $"The teacher endpoint {url} did not answer within {timeout.TotalSeconds:0.###} s, {attempts} time(s).", "Raise --teacher-timeout, send fewer rows per request (--teacher-batch-size), or check that the endpoint is not stuck.");

    public static ModelBuildException Malformed(string url, string detail) => new("MB0362", $"The teacher endpoint {url} answered something that is not a teacher answer: {detail}.", "Answer JSON with one of \"logits\": [[...]], \"probabilities\": [[...]] (one row of class scores per input row) or \"labels\": [...] (one 0-based class per row); see docs/distillation.md.");

    public static ModelBuildException WrongRowCount(string url, int answered, int sent) => new("MB0363", $"The teacher endpoint {url} answered {answered} row(s) for a request of {sent}.", "Answer exactly one row (scores or label) per input row, in the request's order.");

    public static ModelBuildException BudgetExceeded(string url, int maxCalls, string detail) => new("MB0364", $"The teacher endpoint {url} would be called more than --teacher-max-calls {maxCalls} times: {detail}. No output was written.", "Raise --teacher-max-calls (TeacherMaxCalls), send more rows per request (--teacher-batch-size), use fewer training rows, or keep the stage cache (--stage-cache) so answered batches are not asked again.");

    public static ModelBuildException InvalidSetting(string detail) => new("MB0365", $"The teacher endpoint cannot be used as given: {detail}.", "See docs/distillation.md (a teacher you can only call): an absolute http(s) URL without credentials, the token in an environment variable named by --teacher-endpoint-token-env, a --student file, --loss response.");
}
