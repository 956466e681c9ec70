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
