using Microsoft.ML.OnnxRuntime;
using ModelBuild.Onnx.Tensors;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace ModelBuild.Onnx.Tests.Infrastructure;

/// <summary>
/// Inputs to run a model with: the shipped test data when there is some (test_data_set_*/input_*.pb), the
/// ONNX rule for the light models, else deterministic generated values of the right type and shape.
/// </summary>
public static class ModelInputs
{
    /// <summary>Reads test_data_set_N/input_*.pb and maps them to the model's real inputs (by name, else position).</summary>
    public static Dictionary<string, Func<OrtValue>> FromTestDataSet(OnnxModel model, string dataSetDirectory)
    {
        var realInputs = model.Graph.RealInputs().ToList();
        var files = Directory.GetFiles(dataSetDirectory, "input_*.pb")
            .OrderBy(f => int.Parse(Path.GetFileNameWithoutExtension(f)["input_".Length..]))
            .ToList();
        var result = new Dictionary<string, Func<OrtValue>>();
        for (int i = 0; i < files.Count; i++)
        {
            var tensor = TensorProto.Parser.ParseFrom(File.ReadAllBytes(files[i]));
            var input = realInputs.FirstOrDefault(v => v.Name == tensor.Name) ?? (i < realInputs.Count ? realInputs[i] : null);
            if (input is null)
            {
                continue;
            }
            long[]? shape = null;
            long[]? declared = FixedShape(input);
            // super-resolution-10 ships a [224,224] input for a [1,1,224,224] model (MATERIALS.md): same data, reshaped.
            if (declared is not null && !declared.SequenceEqual(tensor.Dims) && declared.Aggregate(1L, (a, d) => a * d) == TensorData.ElementCount(tensor))
            {
                shape = declared;
            }
            result[input.Name] = () => OrtTensors.ToOrtValue(tensor, shape);
        }
        return result;
    }

    /// <summary>Inputs for a model file: its test_data_set_0 if present, the light-model rule, or generated data.</summary>
    public static Dictionary<string, Func<OrtValue>> For(OnnxModel model, string modelPath)
    {
        string dataSet = Path.Combine(Path.GetDirectoryName(modelPath)!, "test_data_set_0");
        if (Directory.Exists(dataSet) && Path.GetFileName(modelPath) == "model.onnx")
        {
            return FromTestDataSet(model, dataSet);
        }
        string fp32Reference = Path.Combine(Path.GetDirectoryName(modelPath)!, "fp32_reference", "test_data_0_input.pb");
        if (File.Exists(fp32Reference))
        {
            // squeezenet1.0-fp16 ships ORT's fp32 reference input: cast it to the model's fp16 (MATERIALS.md).
            var input = model.Graph.RealInputs().Single();
            var reference = TensorProto.Parser.ParseFrom(File.ReadAllBytes(fp32Reference));
            var halves = Array.ConvertAll(TensorData.ToSingleArray(reference), v => (Half)v);
            var converted = TensorData.Create(input.Name, halves, reference.Dims.ToArray());
            return new Dictionary<string, Func<OrtValue>> { [input.Name] = () => OrtTensors.ToOrtValue(converted) };
        }
        var result = new Dictionary<string, Func<OrtValue>>();
        var random = new Random(1234);
        foreach (var input in model.Graph.RealInputs())
        {
            var type = input.Type.TensorType;
            // Symbolic dims (batch, past length) get 2, not 1, so that a size confused with a broadcast 1 shows up.
            long[] shape = type.Shape.Dim.Select(d => d.DimValue > 0 ? d.DimValue : 2).ToArray();
            TensorProto tensor;
            if (Path.GetFileName(modelPath).StartsWith("light_", StringComparison.Ordinal) && type.ElemType == (int)DataType.Float)
            {
                // onnx/backend/test/runner: x = arange(N) / N, reshaped (generate_dummy_data(random=False)).
                long n = shape.Aggregate(1L, (a, d) => a * d);
                var values = new float[n];
                for (long k = 0; k < n; k++)
                {
                    values[k] = (float)(k / (double)n);
                }
                tensor = TensorData.Create(input.Name, values, shape);
            }
            else
            {
                tensor = Generate(input.Name, type.ElemType, shape, random);
            }
            result[input.Name] = () => OrtTensors.ToOrtValue(tensor);
        }
        return result;
    }

    public static TensorProto Generate(string name, int elemType, long[] shape, Random random)
    {
        long n = shape.Aggregate(1L, (a, d) => a * d);
        switch ((DataType)elemType)
        {
            case DataType.Float:
                return TensorData.Create(name, Fill(n, () => (float)random.NextDouble()), shape);
            case DataType.Double:
                return TensorData.Create(name, Fill(n, random.NextDouble), shape);
            case DataType.Float16:
                return TensorData.Create(name, Fill(n, () => (Half)random.NextDouble()), shape);
            case DataType.Int64:
                // 0 and 1 are valid token ids, masks and segment ids for every model here (intent-bert's token-type
                // table has two rows, so 2 and 3 are out of its range).
                return TensorData.Create(name, Fill(n, () => (long)random.Next(0, 2)), shape);
            case DataType.Int32:
                return TensorData.Create(name, Fill(n, () => random.Next(0, 2)), shape);
            case DataType.Bool:
                return TensorData.Create(name, Fill(n, () => random.Next(2) == 1), shape);
            default:
                throw new NotSupportedException($"No generator for element type {TensorElementTypes.Name(elemType)} (input {name}).");
        }
    }

    private static long[]? FixedShape(ValueInfoProto input)
    {
        var dims = input.Type?.TensorType?.Shape?.Dim;
        if (dims is null)
        {
            return null;
        }
        // Symbolic dims (batch) become 1.
        return dims.Select(d => d.DimValue > 0 ? d.DimValue : 1).ToArray();
    }

    private static T[] Fill<T>(long n, Func<T> next)
    {
        var a = new T[n];
        for (long i = 0; i < n; i++)
        {
            a[i] = next();
        }
        return a;
    }
}
