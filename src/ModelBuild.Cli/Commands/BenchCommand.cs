using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Cli.Commands;

/// <summary><c>modelbuild bench</c>: median latency (one thread, pre-allocated OrtValues), optionally against a baseline, interleaved.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "The ONNX model to time." };
        var baseline = new Option<string?>("--baseline") { Description = "Another model to time side by side (e.g. the float teacher)." };
        var data = new Option<string?>("--data") { Description = "Inputs (any format eval --data takes); the first batch is used. Default: inputs generated from the model's signature for every input (ids below the vocabulary size, masks of 1)." };
        var runs = new Option<int?>("--runs") { Description = $"Runs per model (default {LatencyMeter.DefaultRuns})." };
        var batch = new Option<int?>("--batch") { Description = "Batch size (default 1)." };
        var json = new Option<bool>("--json") { Description = "Print the figures as JSON." };
        var command = new Command("bench", """
            Time a model (median latency, one thread, pre-allocated inputs and outputs), optionally against a baseline
            timed in the same run, interleaved, so the ratio is fair on a busy machine.

            Examples:
              modelbuild bench model.onnx
              modelbuild bench model.onnx --baseline teacher.onnx --runs 2000
              modelbuild bench model.onnx --data test_x.npy --batch 32 --json
            """);
        command.Arguments.Add(model);
        foreach (var o in new Option[] { baseline, data, runs, batch, json }) command.Options.Add(o);
        var reading = new DataReadingOptions();
        reading.AddTo(command);
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var path = parse.GetValue(model)!;
            var b = parse.GetValue(batch) ?? 1;
            var sample = parse.GetValue(data) is { } d ? DataSource.ReadInputSet(d, reading.For(parse, path)) : SyntheticSample.For(path, b);
            // NaN or Inf would time the kernels on values no real input has (and, with denormals, at another speed): MB0503 as in eval.
            sample.EnsureFinite();
            if (sample.Count < b)
            {
                using var runner = new ModelRunner(path);
                sample = runner.Bind(sample, "data").Cycle(b);
            }
            var paths = parse.GetValue(baseline) is { } other ? new[] { path, other } : [path];
            var n = parse.GetValue(runs) ?? LatencyMeter.DefaultRuns;
            var medians = LatencyMeter.MeasureMedians(paths, sample, n, b);
            var c = CultureInfo.InvariantCulture;
            if (parse.GetValue(json))
            {
                var document = new JsonObject
                {
                    ["batch"] = b, ["runs"] = n, ["threads"] = 1,
                    ["inputs"] = new JsonArray(sample.Inputs.Select(i => (JsonNode)(i.Name ?? "")).ToArray()),
                    ["data"] = parse.GetValue(data) is { } dp ? Path.GetFullPath(dp) : SyntheticSample.Path,
                    ["model"] = new JsonObject { ["path"] = Path.GetFullPath(paths[0]), ["latencyMicroseconds"] = medians[0] },
                    ["baseline"] = paths.Length == 2 ? new JsonObject { ["path"] = Path.GetFullPath(paths[1]), ["latencyMicroseconds"] = medians[1] } : null,
                    ["ratio"] = paths.Length == 2 ? medians[0] / medians[1] : null,
                };
                Console.WriteLine(document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            Console.WriteLine($"inputs     {sample}{(parse.GetValue(data) is null ? " (generated)" : "")}");
            for (var i = 0; i < paths.Length; i++)
                Console.WriteLine(string.Format(c, "{0,-10} {1:0.0} us  {2}", i == 0 ? "model" : "baseline", medians[i], paths[i]));
            if (paths.Length == 2) Console.WriteLine(string.Format(c, "ratio      {0:0.000}x (model / baseline; batch {1}, 1 thread, median of {2} runs)", medians[0] / medians[1], b, n));
            return 0;
        }));
        return command;
    }
}
