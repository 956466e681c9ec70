using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;

namespace ModelBuild.Cli.Commands;

/// <summary><c>modelbuild eval</c>: accuracy on labeled data; with <c>--reference</c>, agreement and output SQNR against it.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "The ONNX model to evaluate." };
        var data = new Option<string>("--data") { Description = "Inputs: .npy/.npz, .csv/.tsv, token-id file, image folder (class subfolders give labels) or TensorProto folder.", Required = true };
        var labels = new Option<string?>("--labels") { Description = "Labels (.npy or text, int class ids), unless the data carries them; a .json is class names for the labels in a text file (index = class id)." };
        var reference = new Option<string?>("--reference") { Description = "A reference model (the teacher) for agreement and SQNR." };
        var threads = new Option<int?>("--threads") { Description = "Intra-op threads (default 1)." };
        var latencyRuns = new Option<int?>("--latency-runs") { Description = $"Batch-1 runs for the latency median (default {LatencyMeter.DefaultRuns}, 0 to skip)." };
        var output = new Option<string?>("--metric-output", "--output") { Description = "The model output accuracy and agreement are computed on (arg-max per sample); default: the first output." };
        var json = new Option<bool>("--json") { Description = "Print the figures as JSON." };
        var command = new Command("eval", """
            Evaluate a model: accuracy, agreement and SQNR against a reference, batch-1 latency.

            Examples:
              modelbuild eval model.onnx --data test_x.npy --labels test_y.npy
              modelbuild eval model.onnx --data test_x.npy --labels test_y.npy --reference teacher.onnx --json
              modelbuild eval mnist.onnx --data digits/ --image-scale 0..255
              modelbuild eval iris.onnx --data iris.data --label-column 4
              modelbuild eval bert.onnx --data test.npz --labels test_y.npy   (one array per input name)
              modelbuild eval intent.onnx --data test.tsv --tokenizer vocab.txt --text-column text --label-column intent --labels labels.json
            """);
        command.Arguments.Add(model);
        foreach (var o in new Option[] { data, labels, reference, threads, latencyRuns, output, json }) command.Options.Add(o);
        var reading = new DataReadingOptions(classNames: false);
        reading.AddTo(command);
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var path = parse.GetValue(model)!;
            // A .json is never per-sample labels: it names the classes of the labels in a text file.
            var labelsFile = parse.GetValue(labels);
            var classNames = labelsFile is not null && labelsFile.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? labelsFile : null;
            var set = DataSource.Read(parse.GetValue(data)!, reading.For(parse, path, classNames), classNames is null ? labelsFile : null);
            InputSet x;
            using (var runner = new ModelRunner(path)) x = runner.Bind(set.Inputs, "evaluation data");
            x.EnsureFinite();
            var evaluator = new ModelEvaluator(x, set.LabelTensor, parse.GetValue(threads) ?? 1, parse.GetValue(latencyRuns) ?? LatencyMeter.DefaultRuns, output: parse.GetValue(output));
            evaluator.SetReference(parse.GetValue(reference) ?? path);
            var result = evaluator.Evaluate(path);
            var latency = evaluator.Latency(path);
            var c = CultureInfo.InvariantCulture;
            if (parse.GetValue(json))
            {
                var document = new JsonObject
                {
                    ["model"] = Path.GetFullPath(path),
                    ["samples"] = x.Count,
                    ["inputs"] = new JsonArray(x.Inputs.Select(i => (JsonNode)(i.Name ?? "")).ToArray()),
                    ["output"] = evaluator.Output,
                    ["accuracy"] = result.Accuracy,
                    ["reference"] = parse.GetValue(reference) is { } rp ? Path.GetFullPath(rp) : null,
                    ["agreement"] = parse.GetValue(reference) is null ? null : result.Agreement,
                    ["sqnrDb"] = parse.GetValue(reference) is null ? null
                        : new JsonObject(result.Sqnr.Select(p => KeyValuePair.Create(p.Output, (JsonNode?)(double.IsFinite(p.Db) ? p.Db : null)))),
                    ["latencyMicroseconds"] = latency,
                };
                Console.WriteLine(document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
            Console.WriteLine($"model      {path}");
            Console.WriteLine($"samples    {x.Count}");
            Console.WriteLine($"inputs     {x}");
            Console.WriteLine($"output     {evaluator.Output} (accuracy and agreement: arg-max of this output)");
            if (result.Accuracy is { } a) Console.WriteLine(string.Format(c, "accuracy   {0:0.00}%", a));
            if (parse.GetValue(reference) is not null)
            {
                Console.WriteLine(string.Format(c, "agreement  {0:0.00}%", result.Agreement));
                foreach (var (output, db) in result.Sqnr) Console.WriteLine(string.Format(c, "sqnr       {0}: {1:0.00} dB", output, db));
            }
            if (latency is { } us) Console.WriteLine(string.Format(c, "latency    {0:0.0} us (batch 1, 1 thread, median)", us));
            return 0;
        }));
        return command;
    }
}
