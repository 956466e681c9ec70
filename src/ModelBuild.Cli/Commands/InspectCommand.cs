using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Cli.Commands;

/// <summary>
/// `modelbuild inspect &lt;model.onnx&gt; [--json]`: inputs/outputs with types and shapes, opsets, operator histogram,
/// parameter count and bytes. A bad file exits with 2 and its MBxxxx message on stderr.
/// </summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "The .onnx file to describe." };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };
        var command = new Command("inspect", """
            Describe an ONNX model: inputs/outputs, opsets, operators, parameters and size.

            Examples:
              modelbuild inspect model.onnx
              modelbuild inspect model.onnx --json
            """)
        {
            model,
            json,
        };
        command.SetAction(parseResult => Run(
            parseResult.GetValue(model)!,
            parseResult.GetValue(json),
            parseResult.InvocationConfiguration.Output,
            parseResult.InvocationConfiguration.Error));
        return command;
    }

    public static int Run(string path, bool json, TextWriter output, TextWriter error)
    {
        ModelSummary summary;
        try
        {
            summary = ModelSummary.Create(OnnxModel.Load(path));
        }
        catch (ModelBuildException e)
        {
            error.WriteLine(e.ToString());
            return e.ExitCode;
        }
        if (json)
        {
            WriteJson(summary, output);
        }
        else
        {
            WriteText(summary, output);
        }
        return 0;
    }

    private static void WriteText(ModelSummary s, TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine($"model:      {s.Path}");
        o.WriteLine($"ir version: {s.IrVersion}   producer: {(s.Producer.Length == 0 ? "-" : s.Producer)}");
        o.WriteLine($"opsets:     {string.Join(", ", s.Opsets.Select(p => $"{p.Domain} {p.Version}"))}");
        o.WriteLine("inputs:");
        foreach (var v in s.Inputs)
        {
            o.WriteLine($"  {v.Name}: {v.ElementType} {v.Shape}");
        }
        o.WriteLine("outputs:");
        foreach (var v in s.Outputs)
        {
            o.WriteLine($"  {v.Name}: {v.ElementType} {v.Shape}");
        }
        o.WriteLine($"operators ({s.NodeCount} nodes):");
        foreach (var (op, count) in s.Operators)
        {
            o.WriteLine($"  {op,-28} {count.ToString(inv),6}");
        }
        o.WriteLine($"parameters: {s.ParameterCount.ToString("N0", inv)} in {s.InitializerCount.ToString(inv)} initializers");
        o.WriteLine($"bytes:      {s.InitializerBytes.ToString("N0", inv)} initializer bytes, {s.FileBytes.ToString("N0", inv)} file bytes");
        foreach (var (key, value) in s.Metadata)
        {
            o.WriteLine($"metadata:   {key} = {value}");
        }
    }

    private static void WriteJson(ModelSummary s, TextWriter o)
    {
        var document = new Dictionary<string, object?>
        {
            ["path"] = s.Path,
            ["irVersion"] = s.IrVersion,
            ["producer"] = s.Producer,
            ["opsets"] = s.Opsets.Select(p => new Dictionary<string, object> { ["domain"] = p.Domain, ["version"] = p.Version }).ToList(),
            ["inputs"] = s.Inputs.Select(Value).ToList(),
            ["outputs"] = s.Outputs.Select(Value).ToList(),
            ["operators"] = s.Operators.ToDictionary(p => p.Operator, p => p.Count),
            ["nodes"] = s.NodeCount,
            ["initializers"] = s.InitializerCount,
            ["parameters"] = s.ParameterCount,
            ["initializerBytes"] = s.InitializerBytes,
            ["fileBytes"] = s.FileBytes,
            ["metadata"] = s.Metadata,
        };
        o.WriteLine(JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
    }

    private static Dictionary<string, string> Value(ValueSummary v) =>
        new() { ["name"] = v.Name, ["type"] = v.ElementType, ["shape"] = v.Shape };
}
