using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// <c>modelbuild compress --teacher-endpoint</c> as a user runs it: an endpoint that cannot be used is an MB code with
/// exit code 2 (bad input), never a hang or exit 3; the token is named by its environment variable only.
/// The endpoint's answers, retries and cache are tested against a served teacher in ModelBuild.Compression.Tests
/// (TeacherEndpointTests).
/// </summary>
public sealed class TeacherEndpointCommandTests
{
    static (int Exit, string Stdout, string Stderr) Compress(IDictionary<string, string>? environment, params string[] extra)
    {
        var dir = Directory.CreateTempSubdirectory("mb-cli-endpoint-").FullName;
        return CliProcess.Run(environment,
        [
            "compress", TestPaths.Wine("student_scratch.onnx"), "-o", Path.Combine(dir, "out.onnx"), "--distill", "--reinitialize",
            "--train-data", TestPaths.Wine("train_x.npy"), "--epochs", "2", "--latency-runs", "0", .. extra,
        ]);
    }

    [Fact]
    public void An_unreachable_endpoint_with_a_budget_of_one_call_stops_with_MB0364_and_exit_2()
    {
        // Port 1 on loopback refuses the connection; the retry would be the second call.
        var (exit, stdout, stderr) = Compress(null, "--teacher-endpoint", "http://127.0.0.1:1/v1/teacher?key=in-the-query", "--teacher-max-calls", "1");
        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains("##modelbuild[error MB0364]", stdout);
        Assert.Contains("http://127.0.0.1:1/v1/teacher", stdout);
        Assert.DoesNotContain("in-the-query", stdout + stderr);
    }

    [Fact]
    public async Task Text_training_data_reaches_the_endpoint_as_texts_from_the_command_line()
    {
        // A stand-in text endpoint (HttpListener: this project does not host ASP.NET): answers class 0 for every text
        // of a {"texts": [...]} request, 400 for anything else. The served intent-bert teacher is TextTeacherEndpointTests'.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        string url = $"http://127.0.0.1:{port}/v1/intent/";
        var bodies = new ConcurrentQueue<string>();
        using var listener = new HttpListener();
        listener.Prefixes.Add(url);
        listener.Start();
        var serve = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync(); }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException) { return; }
                var body = await new StreamReader(context.Request.InputStream).ReadToEndAsync();
                bodies.Enqueue(body);
                using var doc = JsonDocument.Parse(body);
                byte[] answer;
                if (doc.RootElement.TryGetProperty("texts", out var texts)) answer = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { labels = new int[texts.GetArrayLength()] }));
                else { context.Response.StatusCode = 400; answer = []; }
                await context.Response.OutputStream.WriteAsync(answer);
                context.Response.Close();
            }
        });
        string dir = Path.Combine(TestPaths.Shared, "teachers", "intent-bert");
        var output = Directory.CreateTempSubdirectory("mb-cli-text-endpoint-").FullName;
        try
        {
            var (exit, stdout, stderr) = CliProcess.Run(
            [
                "compress", Path.Combine(dir, "student_scratch.onnx"), "-o", Path.Combine(output, "out.onnx"), "--distill", "--reinitialize",
                "--train-data", Path.Combine(dir, "train.tsv"), "--tokenizer", Path.Combine(dir, "vocab.txt"), "--text-column", "text",
                "--epochs", "1", "--latency-runs", "0", "--teacher-endpoint", url, "--teacher-batch-size", "1000",
            ]);
            Assert.True(exit == 0, stdout + stderr);
            Assert.Equal(4, bodies.Count); // 3,240 texts in requests of 1,000
            var sent = bodies.SelectMany(b => JsonDocument.Parse(b).RootElement.GetProperty("texts").EnumerateArray().Select(t => t.GetString())).ToList();
            Assert.Equal(3240, sent.Count);
            Assert.Contains("ok what does my afternoon look like right now", sent); // train.tsv's first row, as written there
            Assert.True(File.Exists(Path.Combine(output, "out.onnx")));
        }
        finally
        {
            listener.Stop();
            await serve.WaitAsync(TimeSpan.FromSeconds(5));
            Directory.Delete(output, true);
        }
    }

    [Fact]
    public void A_token_variable_that_is_not_set_is_MB0365_naming_the_variable()
    {
        var (exit, stdout, stderr) = Compress(null, "--teacher-endpoint", "http://127.0.0.1:1/v1/teacher", "--teacher-endpoint-token-env", "MODELBUILD_TEST_NO_SUCH_TOKEN");
        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains("##modelbuild[error MB0365]", stdout);
        Assert.Contains("MODELBUILD_TEST_NO_SUCH_TOKEN", stdout);
    }

    [Fact]
    public void A_gate_on_figures_an_endpoint_teacher_does_not_give_is_refused_before_any_call()
    {
        var (exit, stdout, stderr) = Compress(new Dictionary<string, string> { ["MODELBUILD_TEST_TOKEN"] = "secret-value-123" },
            "--teacher-endpoint", "http://127.0.0.1:1/v1/teacher", "--teacher-endpoint-token-env", "MODELBUILD_TEST_TOKEN",
            "--eval-data", TestPaths.Wine("test_x.npy"), "--eval-labels", TestPaths.Wine("test_y.npy"), "--min-agreement", "90");
        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains("##modelbuild[error MB0365]", stdout);
        Assert.DoesNotContain("secret-value-123", stdout + stderr);
    }
}
