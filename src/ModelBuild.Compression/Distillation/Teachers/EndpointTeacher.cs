using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation.Teachers;

/// <summary>
/// A teacher behind an HTTP endpoint (output mimicry of a hosted model). The training rows are posted in batches as
/// <c>{"inputs": {"&lt;input name&gt;": [row, ...]}}</c>, or for text data as <c>{"texts": ["...", ...]}</c>, a few
/// requests at a time; the answer is
/// <c>{"logits": [[...], ...]}</c>, <c>{"probabilities": [[...], ...]}</c> or <c>{"labels": [...]}</c>.
/// A 408, 429, 5xx, connection failure or timeout is retried with exponential back-off (Retry-After honoured);
/// every answer is kept in the answers cache under the hash of the URL and the request body, so a rebuild, another
/// student or other training settings on the same rows ask nothing again. Retries are a small loop rather than
/// Microsoft.Extensions.Http.Resilience: the worker is one short process without a DI container, the standard
/// pipeline's circuit breaker and telemetry do not apply to one batch job, and the whole policy (budget counted per
/// attempt, Retry-After capped, a per-attempt timeout, an MB code for each way of failing) fits in one method.
/// </summary>
internal sealed class EndpointTeacher : IDistillationTeacher
{
    const string CacheScheme = "modelbuild-teacher-answer-v1";
    readonly EndpointTeacherOptions _options;
    readonly Uri _uri;
    readonly string? _token;
    readonly HttpClient _http;
    int _callsMade, _retries;

    public EndpointTeacher(EndpointTeacherOptions options)
    {
        _options = options;
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw EndpointTeacherErrors.InvalidSetting($"'{Describe(options.Url)}' is not an absolute http(s) URL");
        if (uri.UserInfo.Length > 0)
            throw EndpointTeacherErrors.InvalidSetting($"the URL {Describe(uri)} carries credentials (user:password@); they would reach logs and cache keys");
        _uri = uri;
        if (options.BatchSize < 1) throw EndpointTeacherErrors.InvalidSetting($"--teacher-batch-size {options.BatchSize} must be at least 1");
        if (options.Concurrency < 1) throw EndpointTeacherErrors.InvalidSetting($"the concurrency {options.Concurrency} must be at least 1");
        if (options.MaxCalls is < 1) throw EndpointTeacherErrors.InvalidSetting($"--teacher-max-calls {options.MaxCalls} must be at least 1");
        if (!(options.Timeout > TimeSpan.Zero)) throw EndpointTeacherErrors.InvalidSetting($"--teacher-timeout {options.Timeout.TotalSeconds} s must be positive");
        if (options.TokenEnvironmentVariable is { } variable)
        {
            _token = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(_token))
                throw EndpointTeacherErrors.InvalidSetting($"the environment variable {variable} (--teacher-endpoint-token-env) is not set or empty");
            using var probe = new HttpRequestMessage();
            if (options.HeaderName is { } header && !probe.Headers.TryAddWithoutValidation(header, "x"))
                throw EndpointTeacherErrors.InvalidSetting($"'{header}' is not a request header name (--teacher-endpoint-header)");
        }
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan, // the per-attempt timeout is ours (a linked token), so a slow answer is retried, not fatal
        };
    }

    /// <summary>The URL as messages and the report show it: scheme, host, port and path, never the query.</summary>
    public string Display => Describe(_uri);

    static string Describe(Uri uri) => uri.GetLeftPart(UriPartial.Path);

    public static string Describe(string url) => Uri.TryCreate(url, UriKind.Absolute, out var u) ? Describe(u) : url.Split('?')[0];

    public TeacherAnswers Answer(TrainingInputs inputs)
    {
        var clock = Stopwatch.StartNew();
        foreach (var (_, tensor) in inputs.ByName())
        {
            using var finite = tensor.is_floating_point() ? torch.isfinite(tensor).all() : null;
            if (finite is not null && !finite.item<bool>())
                throw EndpointTeacherErrors.InvalidSetting("the training inputs contain NaN or infinite values, which JSON cannot carry");
        }
        int rows = (int)inputs.Rows;
        var requests = new List<(int Start, int Count, string Body, string Key)>();
        for (int start = 0; start < rows; start += _options.BatchSize)
        {
            int count = Math.Min(_options.BatchSize, rows - start);
            var batch = inputs.Slice(start, start + count);
            var body = RequestBody(batch);
            requests.Add((start, count, body, CacheKey(body)));
        }

        var answers = new ParsedAnswer?[requests.Count];
        int cached = 0;
        for (int i = 0; i < requests.Count; i++)
        {
            answers[i] = ReadCached(requests[i].Key, requests[i].Count);
            if (answers[i] is not null) cached++;
        }
        var missing = Enumerable.Range(0, requests.Count).Where(i => answers[i] is null).ToArray();
        if (_options.MaxCalls is { } max && missing.Length > max)
            throw EndpointTeacherErrors.BudgetExceeded(Display, max, $"{missing.Length} request(s) of {_options.BatchSize} rows are not in the answers cache");

        if (missing.Length > 0)
        {
            var run = Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = _options.Concurrency }, async (i, ct) =>
            {
                var (_, count, body, key) = requests[i];
                var text = await CallAsync(body, ct).ConfigureAwait(false);
                var parsed = Parse(text, count);
                StoreCached(key, text);
                answers[i] = parsed;
            });
            try { run.Wait(); }
            catch (AggregateException e)
            {
                // The first failure cancels the requests in flight; report it, not their cancellations.
                var flat = e.Flatten().InnerExceptions;
                throw flat.OfType<ModelBuildException>().FirstOrDefault() ?? (Exception)flat[0];
            }
        }

        var kinds = answers.Select(a => a!.Kind).Distinct().ToList();
        if (kinds.Count > 1)
            throw EndpointTeacherErrors.Malformed(Display, $"some requests were answered with {kinds[0]} and others with {kinds[1]}");
        var calls = new TeacherCalls(Display, kinds[0], requests.Count, _callsMade, cached, _retries, clock.Elapsed.TotalSeconds);
        if (kinds[0] == "labels")
            return new TeacherAnswers(null, torch.tensor(answers.SelectMany(a => a!.Labels!).ToArray(), new long[] { rows }), calls);
        var widths = answers.Select(a => a!.Classes).Distinct().ToList();
        if (widths.Count > 1)
            throw EndpointTeacherErrors.Malformed(Display, $"the requests were answered with different numbers of classes ({string.Join(", ", widths)})");
        var scores = answers.SelectMany(a => a!.Scores!).ToArray();
        // Probabilities become log-probabilities: softmax(log p / T) is the teacher's distribution softened by T, as for logits.
        if (kinds[0] == "probabilities") for (int i = 0; i < scores.Length; i++) scores[i] = MathF.Log(Math.Max(scores[i], 1e-8f));
        return new TeacherAnswers(torch.tensor(scores, new long[] { rows, widths[0] }), null, calls);
    }

    /// <summary>
    /// Text data (read with a tokenizer): <c>{"texts": ["...", ...]}</c>, the rows as read, for an endpoint that
    /// tokenizes for itself as a hosted text model does. Other data: <c>{"inputs": {"name": [row, ...], ...}}</c>, every
    /// input of the model by name, each row nested as the input's shape after the batch axis; floats in shortest
    /// round-trip form. The same rows always give the same body (and answers-cache key).
    /// </summary>
    static string RequestBody(TrainingInputs batch)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (batch.Texts is { } texts)
            {
                // Non-ASCII text is written as UTF-8, not \u escapes (the relaxed encoder), so the body reads as the data does.
                json.WriteStartArray("texts");
                foreach (var text in texts) json.WriteStringValue(text);
                json.WriteEndArray();
            }
            else WriteInputs(json, batch);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    static void WriteInputs(Utf8JsonWriter json, TrainingInputs batch)
    {
        json.WriteStartObject("inputs");
        foreach (var (name, tensor) in batch.ByName().OrderBy(i => i.Key, StringComparer.Ordinal))
        {
            json.WritePropertyName(name);
            var shape = tensor.shape;
            using var c = tensor.contiguous();
            if (c.is_floating_point())
            {
                using var f = c.to_type(ScalarType.Float32);
                var values = f.data<float>().ToArray();
                int at = 0;
                WriteNested(json, shape, 0, () => json.WriteNumberValue(values[at++]));
            }
            else
            {
                using var l = c.to_type(ScalarType.Int64);
                var values = l.data<long>().ToArray();
                int at = 0;
                WriteNested(json, shape, 0, () => json.WriteNumberValue(values[at++]));
            }
        }
        json.WriteEndObject();
    }

    static void WriteNested(Utf8JsonWriter json, long[] shape, int axis, Action writeValue)
    {
        if (axis == shape.Length) { writeValue(); return; }
        json.WriteStartArray();
        for (long i = 0; i < shape[axis]; i++) WriteNested(json, shape, axis + 1, writeValue);
        json.WriteEndArray();
    }

    string CacheKey(string body) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{CacheScheme}\n{_uri.AbsoluteUri}\n{body}"))).ToLowerInvariant();

    string? CachePath(string key) => _options.AnswerCacheDirectory is { } dir ? Path.Combine(dir, key + ".json") : null;

    ParsedAnswer? ReadCached(string key, int rows)
    {
        if (CachePath(key) is not { } path || !File.Exists(path)) return null;
        try
        {
            CacheRetention.MarkUsed(path);
            return Parse(File.ReadAllText(path), rows);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ModelBuildException) { return null; } // a bad entry is a miss
    }

    void StoreCached(string key, string answer)
    {
        if (CachePath(key) is not { } path) return;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            File.WriteAllText(temp, answer);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the cache never fails a run; the answer is in memory
    }

    async Task<string> CallAsync(string body, CancellationToken cancel)
    {
        string lastFailure = "";
        bool lastTimedOut = false;
        for (int attempt = 0; ; attempt++)
        {
            if (Interlocked.Increment(ref _callsMade) is var made && _options.MaxCalls is { } max && made > max)
            {
                Interlocked.Decrement(ref _callsMade);
                throw EndpointTeacherErrors.BudgetExceeded(Display, max, $"retries after failures used it up (last: {lastFailure})");
            }
            if (attempt > 0) Interlocked.Increment(ref _retries);
            TimeSpan? retryAfter = null;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(_options.Timeout);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, _uri) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                if (_token is not null)
                {
                    if (_options.HeaderName is { } header) request.Headers.TryAddWithoutValidation(header, _token);
                    else request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _token);
                }
                using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
                var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode) return text;
                var status = $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}{Excerpt(text)}";
                if (!IsTransient(response.StatusCode)) throw EndpointTeacherErrors.Refused(Display, status);
                lastFailure = status;
                lastTimedOut = false;
                retryAfter = response.Headers.RetryAfter is { } ra
                    ? ra.Delta ?? (ra.Date is { } date ? date - DateTimeOffset.UtcNow : null)
                    : null;
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                lastFailure = $"no answer within {_options.Timeout.TotalSeconds:0.###} s";
                lastTimedOut = true;
            }
            catch (HttpRequestException e)
            {
                lastFailure = e.Message;
                lastTimedOut = false;
            }
            if (attempt >= _options.MaxRetries)
                throw lastTimedOut ? EndpointTeacherErrors.TimedOut(Display, attempt + 1, _options.Timeout) : EndpointTeacherErrors.Failed(Display, attempt + 1, lastFailure);
            var backoff = TimeSpan.FromTicks(Math.Min(_options.MaxRetryDelay.Ticks, _options.FirstRetryDelay.Ticks * (1L << Math.Min(attempt, 30))));
            var delay = retryAfter is { } wait ? TimeSpan.FromTicks(Math.Clamp(wait.Ticks, 0, _options.MaxRetryDelay.Ticks)) : backoff;
            await Task.Delay(delay, cancel).ConfigureAwait(false);
        }
    }

    static bool IsTransient(HttpStatusCode status) => status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;

    /// <summary>The start of an error answer (often the endpoint's own explanation), without the token should it echo it.</summary>
    string Excerpt(string text)
    {
        text = text.ReplaceLineEndings(" ").Trim();
        if (_token is not null) text = text.Replace(_token, "***", StringComparison.Ordinal);
        if (text.Length == 0) return "";
        return ": " + (text.Length > 200 ? text[..200] + "..." : text);
    }

    sealed record ParsedAnswer(string Kind, float[]? Scores, int Classes, long[]? Labels);

    ParsedAnswer Parse(string text, int rows)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException e) { throw EndpointTeacherErrors.Malformed(Display, $"not JSON ({e.Message.Split('\n')[0]})"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw EndpointTeacherErrors.Malformed(Display, $"a JSON {doc.RootElement.ValueKind}, not an object");
            var found = new[] { "logits", "probabilities", "labels" }.Where(k => doc.RootElement.TryGetProperty(k, out _)).ToList();
            if (found.Count != 1)
                throw EndpointTeacherErrors.Malformed(Display, found.Count == 0 ? "no \"logits\", \"probabilities\" or \"labels\" property" : $"both {string.Join(" and ", found)}");
            var kind = found[0];
            var array = doc.RootElement.GetProperty(kind);
            if (array.ValueKind != JsonValueKind.Array) throw EndpointTeacherErrors.Malformed(Display, $"\"{kind}\" is a JSON {array.ValueKind}, not an array");
            int answered = array.GetArrayLength();
            if (answered != rows) throw EndpointTeacherErrors.WrongRowCount(Display, answered, rows);
            if (kind == "labels")
            {
                var labels = new long[rows];
                int r = 0;
                foreach (var v in array.EnumerateArray())
                {
                    if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var label) || label < 0)
                        throw EndpointTeacherErrors.Malformed(Display, $"label {r} is {v.GetRawText()}, not a 0-based class index");
                    labels[r++] = label;
                }
                return new ParsedAnswer(kind, null, 0, labels);
            }
            int classes = -1, row = 0;
            var scores = new List<float>();
            foreach (var r in array.EnumerateArray())
            {
                if (r.ValueKind != JsonValueKind.Array) throw EndpointTeacherErrors.Malformed(Display, $"row {row} of \"{kind}\" is not an array of class scores");
                int n = r.GetArrayLength();
                if (classes < 0) classes = n;
                if (n != classes || n == 0) throw EndpointTeacherErrors.Malformed(Display, $"row {row} of \"{kind}\" has {n} scores, row 0 has {classes}");
                foreach (var v in r.EnumerateArray())
                {
                    if (v.ValueKind != JsonValueKind.Number || !v.TryGetSingle(out var f) || !float.IsFinite(f) || (kind == "probabilities" && f is < 0 or > 1.0001f))
                        throw EndpointTeacherErrors.Malformed(Display, $"row {row} of \"{kind}\" holds {v.GetRawText()}, not a finite {(kind == "probabilities" ? "probability" : "number")}");
                    scores.Add(f);
                }
                row++;
            }
            return new ParsedAnswer(kind, scores.ToArray(), classes, null);
        }
    }

    public void Dispose() => _http.Dispose();
}
