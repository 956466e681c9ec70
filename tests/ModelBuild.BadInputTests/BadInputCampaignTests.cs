using System.CommandLine;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json.Nodes;
using CsCheck;
using Google.Protobuf;
using ModelBuild.Cli.Commands;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Pipeline.Contract;
using ModelBuild.Onnx;
using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace ModelBuild.BadInputTests;

/// <summary>
/// The bad-input campaign (issue 13): thousands of generated damaged inputs (model bytes, .npy/.npz headers and
/// payloads, CSV/TSV rows, token-id files, recipe JSON, and bad data fed through the whole compress pipeline), each
/// run in-process. Every one must end in success, a failed gate (exit 1) or a <c>ModelBuildException</c> with a code
/// (exit 2): never another exception or exit 3, never a hang (per-case limit), never an output or temp file left
/// behind. Deterministic: the seed is fixed and printed; MODELBUILD_BADINPUT_SEED changes it and
/// MODELBUILD_BADINPUT_SCALE multiplies the number of cases.
/// </summary>
public sealed class BadInputCampaignTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("mb-bad-input-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    internal static ulong CampaignSeed => Seed;
    private static readonly ulong Seed = ulong.TryParse(Environment.GetEnvironmentVariable("MODELBUILD_BADINPUT_SEED"), out var s) ? s : 20261203UL;
    private static readonly double Scale = double.TryParse(Environment.GetEnvironmentVariable("MODELBUILD_BADINPUT_SCALE"), CultureInfo.InvariantCulture, out var f) ? f : 1.0;

    private static int Cases(int n) => Math.Max(1, (int)(n * Scale));

    [Fact]
    public void Generated_bad_inputs_end_in_success_or_a_coded_error_with_nothing_left_behind()
    {
        output.WriteLine($"seed {Seed} (MODELBUILD_BADINPUT_SEED), scale {Scale} (MODELBUILD_BADINPUT_SCALE), per-case limit {CaseProcess.Timeout.TotalSeconds} s (the case's process is killed)");
        var tally = new Tally();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var kinds = Kinds(_root);
        for (var k = 0; k < kinds.Count; k++) CaseProcess.RunKind(tally, _root, Seed, Scale, k, kinds[k].Name, kinds[k].Count);
        clock.Stop();

        foreach (var line in tally.Lines()) output.WriteLine(line);
        output.WriteLine($"total {tally.Total} inputs in {clock.Elapsed.TotalSeconds:0} s: success {tally.Count(Outcome.Success)}, exit 1 {tally.Count(Outcome.GateFailed)}, "
            + $"exit 2 (MB code) {tally.Count(Outcome.UserError)}, unexpected/exit 3 {tally.Count(Outcome.Unexpected)}, hangs {tally.Count(Outcome.Hang)}, leftovers {tally.Count(Outcome.Leftover)}");
        foreach (var problem in tally.Problems.Take(20)) output.WriteLine(problem);
        Assert.True(tally.Total >= 2000 * Math.Min(1, Scale), $"only {tally.Total} inputs were tried");
        Assert.True(tally.Problems.IsEmpty, $"{tally.Problems.Count} input(s) ended badly; first: {tally.Problems.FirstOrDefault()}");
    }

    [Fact]
    public void A_case_that_hangs_is_killed_counted_as_a_hang_and_the_next_case_still_runs()
    {
        var tally = new Tally();
        CaseProcess.RunKind(tally, _root, Seed, 1.0, CaseProcess.HangProbe, "hang probe", 3, TimeSpan.FromSeconds(10));
        Assert.Equal(3, tally.Total);
        Assert.Equal(1, tally.Count(Outcome.Hang));
        Assert.Equal(2, tally.Count(Outcome.Success));
        Assert.Contains(tally.Problems, p => p.Contains("case 1: Hang", StringComparison.Ordinal));
        Assert.Single(Directory.GetDirectories(_root, "hung-*-1")); // the hung case's folder, kept for inspection
    }

    /// <summary>
    /// The input kinds, each a count and a generator: a case is (kind, number), generated from the seed alone, so the
    /// case process regenerates exactly the case the test asked for. Writes the shared materials under <paramref name="root"/>.
    /// </summary>
    internal static List<(string Name, int Count, Func<PCG, string, Action> Make)> Kinds(string root)
    {
        var kinds = new List<(string Name, int Count, Func<PCG, string, Action> Make)>();
        var materials = Directory.CreateDirectory(Path.Combine(root, "materials")).FullName;
        var mlp = Save(Models.Mlp(), Path.Combine(materials, "mlp.onnx"));
        var embedding = Save(Models.Embedding(), Path.Combine(materials, "embedding.onnx"));
        var wine = Shared.Wine("teacher.onnx");
        var labels = Path.Combine(materials, "labels.npy");
        NpyArray.Create(Enumerable.Range(0, 8).Select(i => (long)(i % 3)).ToArray(), 8).Save(labels);
        var goodNpy = NpyBytes(Enumerable.Range(0, 8 * 13).Select(i => (float)Math.Sin(i)).ToArray(), 8, 13);
        var goodNpz = NpzBytes(goodNpy);
        var payload = goodNpy[NpyHeader.Parse(goodNpy, "good.npy").DataOffset..];
        var mlpRunner = new ModelRunner(mlp); // lives as long as the case process
        var embeddingRunner = new ModelRunner(embedding);
        var floatInput = new ModelInputSignature("x", [-1, 13], true);
        var idInput = new ModelInputSignature("ids", [-1, 4], false);

        kinds.Add(("onnx model bytes", Cases(800), (pcg, dir) =>
        {
            var path = Path.Combine(dir, "model.onnx");
            File.WriteAllBytes(path, Mutations.Mutate(pcg, File.ReadAllBytes(Gen.Int[0, 3].Next(pcg) == 0 ? wine : mlp)));
            return () =>
            {
                var model = OnnxModel.Load(path);
                ModelSummary.Create(model);
                using var runner = new ModelRunner(path); // ONNX Runtime on what our loader accepted
            };
        }));
        kinds.Add((".npy header and payload", Cases(600), (pcg, dir) =>
        {
            var path = Path.Combine(dir, "x.npy");
            File.WriteAllBytes(path, Gen.Bool.Next(pcg) ? Mutations.Mutate(pcg, goodNpy) : Mutations.NpyWithHeader(pcg, payload));
            var asLabels = Gen.Int[0, 4].Next(pcg) == 0;
            return () => ReadAndRun(path, new DataReadOptions { Input = floatInput }, mlpRunner, asLabels);
        }));
        kinds.Add((".npz archive", Cases(150), (pcg, dir) =>
        {
            var path = Path.Combine(dir, "x.npz");
            File.WriteAllBytes(path, Mutations.Mutate(pcg, goodNpz));
            var spec = Gen.Int[0, 3].Next(pcg) == 0 ? path + ":y" : path;
            return () => ReadAndRun(spec, new DataReadOptions { Input = floatInput }, mlpRunner, false);
        }));
        kinds.Add(("CSV/TSV rows", Cases(500), (pcg, dir) =>
        {
            var path = Path.Combine(dir, "rows" + Gen.OneOf(".csv", ".tsv", ".txt", ".data").Next(pcg));
            File.WriteAllText(path, Mutations.Table(pcg));
            var label = Gen.OneOf<string?>(null, null, null, null, null, "0", "12", "13", "-1", "label", "x", "99999999999").Next(pcg);
            var asLabels = Gen.Int[0, 5].Next(pcg) == 0;
            return () => ReadAndRun(path, new DataReadOptions { Input = floatInput, LabelColumn = label }, mlpRunner, asLabels);
        }));
        kinds.Add(("token-id files", Cases(250), (pcg, dir) =>
        {
            var path = Path.Combine(dir, "ids" + Gen.OneOf(".ids", ".tokens", ".txt").Next(pcg));
            File.WriteAllText(path, Mutations.TokenLines(pcg));
            var input = Gen.Bool.Next(pcg) ? idInput : new ModelInputSignature("ids", [-1, -1], false);
            var pad = Gen.OneOf(0L, 0L, -1L, 5L, 99L).Next(pcg);
            return () => ReadAndRun(path, new DataReadOptions { Input = input, PadId = pad }, embeddingRunner, false);
        }));
        kinds.Add(("recipe JSON (compress --recipe)", Cases(300), (pcg, dir) =>
        {
            var recipe = Path.Combine(dir, "recipe.json");
            var output = Path.Combine(dir, "out.onnx");
            File.WriteAllText(recipe, RecipeJson(pcg, mlp, output, Path.Combine(materials, "calib.npy")));
            if (!File.Exists(Path.Combine(materials, "calib.npy"))) File.WriteAllBytes(Path.Combine(materials, "calib.npy"), goodNpy);
            if (Gen.Int[0, 3].Next(pcg) == 0) File.WriteAllBytes(recipe, Mutations.Mutate(pcg, File.ReadAllBytes(recipe)));
            return () => Cli(dir, output, "compress", "--recipe", recipe, "--latency-runs", "0", "--report", Path.Combine(dir, "report.json"));
        }));
        kinds.Add(("pipeline with bad data (compress)", Cases(100), (pcg, dir) =>
        {
            var calibration = Path.Combine(dir, "calib" + (Gen.Bool.Next(pcg) ? ".npy" : ".csv"));
            if (calibration.EndsWith(".npy", StringComparison.Ordinal)) File.WriteAllBytes(calibration, Gen.Int[0, 3].Next(pcg) == 0 ? goodNpy : Mutations.NpyWithHeader(pcg, payload));
            else File.WriteAllText(calibration, Mutations.Table(pcg));
            var evaluation = Path.Combine(dir, "eval.npy");
            File.WriteAllBytes(evaluation, Gen.Bool.Next(pcg) ? goodNpy : Mutations.Mutate(pcg, goodNpy));
            var output = Path.Combine(dir, "out.onnx");
            var quantize = Gen.OneOf("int8-static", "int8-dynamic", "int8-weights", "fp16").Next(pcg);
            // A stage cache inside the case folder, so a cache entry a failed case leaves behind is counted as a leftover.
            return () => Cli(dir, output, "compress", mlp, "-o", output, "--quantize", quantize, "--calibration-data", calibration,
                "--eval-data", evaluation, "--eval-labels", labels, "--max-accuracy-drop", "50", "--latency-runs", "0", "--report", Path.Combine(dir, "report.json"),
                "--stage-cache", Path.Combine(dir, StageCacheFolder));
        }));
        return kinds;
    }

    /// <summary>
    /// In the case process: generates cases <paramref name="first"/>..<paramref name="count"/>-1 of one kind, each in its
    /// own folder, runs it, checks for leftovers and reports it on <paramref name="report"/> before the next one starts.
    /// </summary>
    internal static void Kind(TextWriter report, string root, ulong seed, string kind, int first, int count, Func<PCG, string, Action> make)
    {
        // A stable per-kind seed (string.GetHashCode is randomized per process): FNV-1a of the kind's name.
        var kindSeed = kind.Aggregate(14695981039346656037UL, (h, c) => (h ^ c) * 1099511628211UL) ^ seed;
        var caseDir = Path.Combine(root, "case");
        if (Directory.Exists(caseDir)) Directory.Delete(caseDir, recursive: true); // a killed case's folder (already moved, or not)
        for (var i = first; i < count; i++)
        {
            var dir = Directory.CreateDirectory(caseDir).FullName;
            var pcg = new PCG((uint)i, kindSeed);
            var inputs = new HashSet<string>();
            Action run;
            try
            {
                run = make(pcg, dir);
                inputs.UnionWith(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories));
            }
            catch (Exception e)
            {
                CaseProcess.Report(report, i, Outcome.Unexpected, "generator: " + e.Message);
                Directory.Delete(dir, recursive: true);
                continue;
            }
            var (outcome, detail) = CampaignCase.Run(run);
            // Nothing half-written: a failed case leaves only its inputs (a failed gate may leave its report, and the
            // stage it completed may stay in the stage cache). Any staging (.tmp) file or folder is a leftover always.
            var extra = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Where(f => !inputs.Contains(f))
                .Where(f => IsStaging(dir, f) || outcome switch
                {
                    Outcome.Success => false,
                    Outcome.GateFailed => !Path.GetFileName(f).StartsWith("report.", StringComparison.Ordinal) && !IsInStageCache(dir, f),
                    _ => true,
                }).ToList();
            if (extra.Count > 0 && outcome is Outcome.UserError or Outcome.GateFailed or Outcome.Success)
                (outcome, detail) = (Outcome.Leftover, $"{detail} left {string.Join(", ", extra.Select(Path.GetFileName))}");
            Directory.Delete(dir, recursive: true);
            CaseProcess.Report(report, i, outcome, detail);
        }
    }

    private const string StageCacheFolder = "stages";

    private static bool IsInStageCache(string caseDir, string file) =>
        Path.GetRelativePath(caseDir, file).StartsWith(StageCacheFolder + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>A temp file, or a file inside a staging folder (AtomicFile's "*.tmp" folders): never complete.</summary>
    private static bool IsStaging(string caseDir, string file) =>
        Path.GetRelativePath(caseDir, file).Split(Path.DirectorySeparatorChar).Any(part => part.EndsWith(".tmp", StringComparison.Ordinal));

    private static void ReadAndRun(string spec, DataReadOptions options, ModelRunner runner, bool asLabels)
    {
        if (asLabels)
        {
            DataSource.ReadLabels(spec);
            return;
        }
        var data = DataSource.Read(spec, options);
        data.Inputs.EnsureFinite();
        runner.RunAll(data.Inputs);
    }

    /// <summary>Runs the CLI in-process: exit 0/1 pass, 2 must carry a code, 3 (or anything else) is unexpected.</summary>
    private static void Cli(string dir, string output, params string[] args)
    {
        var stdout = ModelBuild.TestSupport.ProducedCodes.Observing(new StringWriter());
        var previousOut = Console.Out;
        var previousError = Console.Error;
        Console.SetOut(stdout);
        Console.SetError(TextWriter.Null);
        int exit;
        try
        {
            exit = CommandLineEntry.Run(args, new InvocationConfiguration { Output = stdout, Error = TextWriter.Null });
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
        }
        var text = stdout.ToString()!;
        var code = System.Text.RegularExpressions.Regex.Match(text, @"##modelbuild\[error (MB\d{4})\]").Groups[1].Value;
        switch (exit)
        {
            case 0:
                return;
            case 1:
                if (File.Exists(output)) throw new InvalidOperationException("a failed gate left the model behind");
                throw new GateFailed(code);
            case 2 when code.Length > 0:
                if (File.Exists(output)) throw new InvalidOperationException($"{code}: the output was written although the input was rejected");
                throw new ModelBuild.Onnx.Diagnostics.ModelBuildException(code, "rejected", "");
            default:
                throw new InvalidOperationException($"exit {exit}: {text.Split('\n').FirstOrDefault(l => l.Contains("error", StringComparison.Ordinal)) ?? text}");
        }
    }

    private sealed class GateFailed(string code) : ModelBuild.Onnx.Diagnostics.ModelBuildException(code.Length > 0 ? code : "MB0520", "gate", "")
    {
        public override int ExitCode => 1;
    }

    private static string RecipeJson(PCG pcg, string teacher, string output, string calibration)
    {
        var recipe = new JsonObject { ["teacher"] = teacher, ["output"] = output, ["quantize"] = "int8-dynamic" };
        string[] names = ["teacher", "output", "quantize", "calibrationData", "calibrationMethod", "prune", "pruneMode", "pruneSteps", "pruneExclude",
            "distill", "student", "studentWidth", "studentDepth", "trainingData", "trainingLabels", "epochs", "batchSize", "learningRate", "temperature",
            "alpha", "loss", "synthetic", "evaluationData", "evaluationLabels", "maxAccuracyDrop", "minAgreement", "seed", "threads", "labelColumn", "unknownThing"];
        var values = Mutations.Pick(
            (6, Gen.OneOf<JsonNode?>(null, true, false, 0, -1, 1, 0.5, 1e308, 2147483647, -2147483648L, "", "garbage", "../../etc/passwd", "int8-static",
                "auto", "fp16", "structured", "feature", "none", "/nonexistent/x.npy")),
            (1, Gen.Const(0).Select(_ => (JsonNode?)new JsonArray("a", 1))),
            (1, Gen.Const(0).Select(_ => (JsonNode?)new JsonObject { ["x"] = 1 })),
            (1, Gen.Const(0).Select(_ => (JsonNode?)calibration)));
        var changes = Gen.Int[1, 2].Next(pcg);
        for (var c = 0; c < changes; c++)
        {
            var name = Gen.OneOf(names).Next(pcg);
            var value = values.Next(pcg);
            // Keep generated runs short: a successful distillation of the MLP for many epochs is not a bad input.
            if (name == "epochs" && value is JsonValue v && v.TryGetValue<double>(out var epochs) && epochs > 3) value = 1;
            recipe[name] = value?.DeepClone(); // a node has one parent: the palette's constants are copied
        }
        return recipe.ToJsonString();
    }

    private static string Save(global::Onnx.ModelProto model, string path)
    {
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    private static byte[] NpyBytes(float[] values, params long[] shape)
    {
        var path = Path.GetTempFileName();
        try
        {
            NpyArray.Create(values, shape).Save(path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] NpzBytes(byte[] npy)
    {
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var entry = zip.CreateEntry("x.npy").Open();
            entry.Write(npy);
        }
        return stream.ToArray();
    }
}
