using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using ModelBuild.Cli.Commands;

namespace ModelBuild.Cli.Tests;

public sealed class InspectCommandTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("modelbuild-cli-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ModelBuild.sln")))
                {
                    return dir.FullName;
                }
            }
            throw new DirectoryNotFoundException("ModelBuild.sln not found");
        }
    }

    private static string Shared(params string[] parts) => Path.Combine(new[] { RepoRoot, "..", "shared" }.Concat(parts).ToArray());

    private static (int Exit, string Out, string Err) Invoke(params string[] args)
    {
        var root = new RootCommand { InspectCommand.Create() };
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error });
        return (exit, ModelBuild.TestSupport.ProducedCodes.Observe(output.ToString())!, ModelBuild.TestSupport.ProducedCodes.Observe(error.ToString())!);
    }

    [Fact]
    public void Describes_the_sample_model()
    {
        var (exit, output, error) = Invoke("inspect", Path.Combine(RepoRoot, "samples", "models", "wine-mlp.onnx"));
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Contains("input: float [batch,13]", output);
        Assert.Contains("logits: float [batch,3]", output);
        Assert.Contains("ai.onnx 13", output);
        Assert.Matches(@"Gemm\s+3", output);
        Assert.Matches(@"Relu\s+2", output);
        Assert.Contains("parameters: 70,147", output);
        Assert.Contains("280,588 initializer bytes", output);
        Assert.Contains($"{new FileInfo(Path.Combine(RepoRoot, "samples", "models", "wine-mlp.onnx")).Length:N0} file bytes", output);
    }

    [Fact]
    public void Json_output_for_a_transformer()
    {
        var (exit, output, _) = Invoke("inspect", Shared("teachers", "synthetic-intent-transformer", "teacher.onnx"), "--json");
        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        // reference.json: 482,700 teacher parameters.
        Assert.Equal(482_700, root.GetProperty("parameters").GetInt64());
        Assert.Equal("int64", root.GetProperty("inputs")[0].GetProperty("type").GetString());
        Assert.True(root.GetProperty("operators").GetProperty("MatMul").GetInt32() > 0);
        Assert.True(root.GetProperty("operators").GetProperty("Softmax").GetInt32() > 0);
        Assert.Equal(new FileInfo(Shared("teachers", "synthetic-intent-transformer", "teacher.onnx")).Length, root.GetProperty("fileBytes").GetInt64());
    }

    [Fact]
    public void Bad_files_exit_2_with_their_code_on_stderr()
    {
        string empty = Path.Combine(_temp, "empty.onnx");
        File.WriteAllBytes(empty, []);
        string truncated = Path.Combine(_temp, "truncated.onnx");
        byte[] mnist = File.ReadAllBytes(Shared("models", "mnist-8", "model.onnx"));
        File.WriteAllBytes(truncated, mnist[..(mnist.Length / 2)]);
        string random = Path.Combine(_temp, "random.onnx");
        var bytes = new byte[1000];
        new Random(7).NextBytes(bytes);
        bytes[0] = 0xFF;
        File.WriteAllBytes(random, bytes);
        foreach (var (path, code) in new[]
                 {
                     (Path.Combine(_temp, "missing.onnx"), "MB0001"),
                     (empty, "MB0002"),
                     (random, "MB0003"),
                     (truncated, "MB0004"),
                 })
        {
            var (exit, output, error) = Invoke("inspect", path);
            Assert.Equal(2, exit);
            Assert.Equal("", output);
            Assert.Contains(code, error);
            Assert.Contains(path, error);
        }
    }

    [Fact]
    public void External_data_escaping_the_folder_exits_2()
    {
        // A model whose tensor points at ../../etc/passwd: refused before anything is read.
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(RepoRoot, "samples", "models", "wine-mlp.onnx")));
        var tensor = proto.Graph.Initializer[0];
        tensor.RawData = Google.Protobuf.ByteString.Empty;
        tensor.DataLocation = global::Onnx.TensorProto.Types.DataLocation.External;
        tensor.ExternalData.Add(new global::Onnx.StringStringEntryProto { Key = "location", Value = "../../etc/passwd" });
        string folder = Path.Combine(_temp, "a", "b");
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, "model.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        var (exit, _, error) = Invoke("inspect", path);
        Assert.Equal(2, exit);
        Assert.Contains("MB0011", error);
        Assert.Contains("../../etc/passwd", error);
    }

    [Fact]
    public void The_real_executable_reports_the_same_exit_code()
    {
        string exe = Path.Combine(AppContext.BaseDirectory, "modelbuild.dll");
        Assert.True(File.Exists(exe), exe);
        string empty = Path.Combine(_temp, "empty.onnx");
        File.WriteAllBytes(empty, []);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { exe, "inspect", empty })
        {
            start.ArgumentList.Add(a);
        }
        using var process = Process.Start(start)!;
        string stderr = ModelBuild.TestSupport.ProducedCodes.Observe(process.StandardError.ReadToEnd())!;
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("error MB0002", stderr);
    }
}
