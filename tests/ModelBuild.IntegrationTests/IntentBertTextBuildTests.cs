using System.Text.RegularExpressions;

namespace ModelBuild.IntegrationTests;

/// <summary>
/// Issue 12 in a real build: a <c>&lt;CompressModel&gt;</c> item that reads intent-bert's text (TextColumn, LabelColumn,
/// Labels, Tokenizer, MaxLength) for calibration and evaluation writes the same bytes as the packaged
/// <c>modelbuild compress</c> with the same options, and the app built with it serves the result from strings through
/// ModelBuild.Runtime's pool with the same scores as the model fed test.npz (Hugging Face's token ids).
/// int8-static only (no training) keeps the build short; Force keeps the output independent of the machine's load.
/// </summary>
[Collection(PackageCollection.Name)]
public sealed partial class IntentBertTextBuildTests(PackageFixture package)
{
    static readonly string[] Files = ["teacher.onnx", "vocab.txt", "labels.json", "val.tsv", "test.tsv", "test.npz"];

    const string Item = """
        <CompressModel Include="teacher.onnx" OutputName="models/intent.onnx" Quantize="int8-static" Force="true"
                       CalibrationData="val.tsv" EvaluationData="test.tsv"
                       TextColumn="text" LabelColumn="intent" Labels="labels.json" Tokenizer="vocab.txt" MaxLength="32" />
        """;

    /// <summary>The same recipe on the command line (TuneSession is off in a build by default, auto on the CLI).</summary>
    static readonly string[] CliArguments =
    [
        "compress", "teacher.onnx", "--quantize", "int8-static", "--force", "--calibration-data", "val.tsv", "--eval-data", "test.tsv",
        "--text-column", "text", "--label-column", "intent", "--labels", "labels.json", "--tokenizer", "vocab.txt", "--max-length", "32",
        "--tune-session", "off",
    ];

    [Fact]
    public void Text_item_builds_the_CLI_s_bytes_and_the_pool_serves_strings_as_test_npz()
    {
        var runtimeProject = Path.Combine(RepositoryPaths.Root, "src", "ModelBuild.Runtime", "ModelBuild.Runtime.csproj");
        using var project = new ThrowAwayProject(package, "");
        project.WriteProject(Item + $"""

            <ProjectReference Include="{runtimeProject}" />
            <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.15" />
            <None Update="vocab.txt;test.tsv;test.npz" CopyToOutputDirectory="PreserveNewest" />
            """, "<Nullable>enable</Nullable>");
        foreach (var file in Files)
        {
            File.Copy(Path.Combine(RepositoryPaths.Shared, "teachers", "intent-bert", file), project.PathOf(file), overwrite: true);
            File.SetAttributes(project.PathOf(file), FileAttributes.Normal);
        }
        File.WriteAllText(project.PathOf("Program.cs"), App);
        // The test-side .npz reader the test projects share (tests/Shared), compiled into the app.
        File.Copy(Path.Combine(RepositoryPaths.Root, "tests", "Shared", "Int64Npz.cs"), project.PathOf("Int64Npz.cs"), overwrite: true);

        var build = project.Build("-c", "Release");
        Assert.True(build.Succeeded, build.ToString());
        var built = project.PathOf("bin/Release/net10.0/models/intent.onnx");
        Assert.True(File.Exists(built), build.Output);

        // The packaged CLI (the worker the build ran), from the project folder with the same relative paths.
        var worker = Path.Combine(PackageFixture.GlobalPackagesFolder, "modelbuild", package.Version.ToLowerInvariant(), "tools", "worker");
        var cliOutput = project.PathOf("cli-intent.onnx");
        var cli = DotnetCommand.Start(project.Directory, null,
            ["exec", "--depsfile", Path.Combine(worker, "modelbuild.deps.json"), "--runtimeconfig", Path.Combine(worker, "modelbuild.runtimeconfig.json"),
             "--additionalprobingpath", PackageFixture.GlobalPackagesFolder, Path.Combine(worker, "modelbuild.dll"), .. CliArguments, "-o", cliOutput]).Wait(TimeSpan.FromMinutes(10));
        Assert.True(cli.Succeeded, cli.ToString());
        Assert.True(File.ReadAllBytes(built).AsSpan().SequenceEqual(File.ReadAllBytes(cliOutput)), "the build's models/intent.onnx differs from the CLI's output");
        Assert.True(new FileInfo(built).Length * 3 < new FileInfo(project.PathOf("teacher.onnx")).Length, "not an int8 model");

        var app = DotnetCommand.Run(project.PathOf("bin/Release/net10.0"), "App.dll");
        Assert.True(app.Succeeded, app.ToString());
        var served = Served().Match(app.Output);
        Assert.True(served.Success, app.Output);
        Assert.Equal("1200", served.Groups["rows"].Value);
        Assert.Equal("1200", served.Groups["scores"].Value);
        Assert.Equal("1200", served.Groups["classes"].Value);
    }

    [GeneratedRegex(@"served (?<rows>\d+) strings: scores equal to test\.npz's on (?<scores>\d+), classes on (?<classes>\d+)")]
    private static partial Regex Served();

    /// <summary>
    /// The app: the pool serves models/intent.onnx with the tokenizer (padded to 32 as at training); each string's
    /// scores are compared with ONNX Runtime's on the same row of test.npz (batch 1, one thread, as the pool runs).
    /// </summary>
    const string App = """
        using Microsoft.Extensions.DependencyInjection;
        using Microsoft.ML.OnnxRuntime;
        using ModelBuild.Runtime;
        using ModelBuild.TestSupport;

        var services = new ServiceCollection();
        services.AddPredictionEnginePool<Utterance, IntentScores>()
            .FromFile("intents", "models/intent.onnx", watchForChanges: false)
            .WithTokenizer("vocab.txt", maxLength: 32, padToMaxLength: true);
        using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<PredictionEnginePool<Utterance, IntentScores>>();

        var texts = File.ReadLines("test.tsv").Skip(1).Select(l => l.Split('\t')[0]).ToArray();
        var npz = Int64Npz.Read("test.npz");
        var names = new[] { "input_ids", "attention_mask", "token_type_ids" };
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession("models/intent.onnx", options);
        int scoresEqual = 0, classesEqual = 0;
        for (var r = 0; r < texts.Length; r++)
        {
            var length = npz["input_ids"].Length;
            var values = names.Select(n => OrtValue.CreateTensorValueFromMemory(npz[n].Data.AsSpan(r * length, length).ToArray(), new long[] { 1, length })).ToArray();
            using var outputs = session.Run(new RunOptions(), names, values, new[] { "logits" });
            var expected = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            foreach (var v in values) v.Dispose();
            var got = pool.Predict("intents", new Utterance { Text = texts[r] }).Scores;
            if (got.SequenceEqual(expected)) scoresEqual++;
            if (Array.IndexOf(got, got.Max()) == Array.IndexOf(expected, expected.Max())) classesEqual++;
        }
        Console.WriteLine($"served {texts.Length} strings: scores equal to test.npz's on {scoresEqual}, classes on {classesEqual}");

        public sealed class Utterance
        {
            public string Text { get; set; } = "";
        }

        public sealed class IntentScores
        {
            [ColumnName("logits")]
            public float[] Scores { get; set; } = [];
        }
        """;
}
