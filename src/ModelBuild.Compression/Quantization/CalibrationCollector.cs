using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Evaluation;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Streams calibration data through the float model with the tensors to calibrate exposed as extra outputs and
/// folds each batch into one <see cref="ActivationHistogram"/> per tensor. Batches are sized so that the exposed
/// activations of one batch stay under a fixed budget, so memory does not grow with the number of samples.
/// </summary>
public sealed class CalibrationCollector
{
    public const long ActivationBudgetBytes = 64L << 20;

    public CalibrationCollector(int threads = 1) => Threads = threads;

    public int Threads { get; }

    public Dictionary<string, ActivationHistogram> Collect(ModelProto model, IReadOnlyList<string> tensors, DataTensor data, Action<string>? progress = null)
    {
        var histograms = tensors.Distinct().ToDictionary(t => t, _ => new ActivationHistogram(), StringComparer.Ordinal);
        if (histograms.Count == 0) return histograms;
        var augmented = model.Clone();
        var graphOutputs = augmented.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var inputName = augmented.Graph.Input.Select(i => i.Name).First(n => augmented.Graph.Initializer.All(t => t.Name != n));
        var fetched = new List<string>();
        foreach (var name in histograms.Keys)
        {
            if (name == inputName) continue;
            fetched.Add(name);
            if (graphOutputs.Contains(name)) continue;
            augmented.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        }
        var bytes = OnnxModelAccess.Serialize(augmented);
        // Basic optimizations only: fusions at higher levels could remove the tensors being observed.
        using var options = ModelRunner.CreateOptions(Threads, GraphOptimizationLevel.ORT_ENABLE_BASIC);
        using var session = new InferenceSession(bytes, options);
        using var runOptions = new RunOptions();
        var meta = session.InputMetadata[inputName];
        var fixedBatch = meta.Dimensions.Length > 0 && meta.Dimensions[0] > 0 ? meta.Dimensions[0] : 0;
        var batch = fixedBatch > 0 ? fixedBatch : 1;
        var start = 0;
        while (start < data.Count)
        {
            var count = Math.Min(batch, data.Count - start);
            if (fixedBatch > 0 && count != fixedBatch) break;
            var shape = data.Shape.ToArray();
            shape[0] = count;
            using var input = data.IsFloat
                ? OrtValue.CreateTensorValueFromMemory(data.SliceFloats(start, count), shape)
                : OrtValue.CreateTensorValueFromMemory(data.SliceInt64s(start, count), shape);
            if (histograms.TryGetValue(inputName, out var inputHistogram) && data.IsFloat)
                inputHistogram.Add(data.Floats.AsSpan(start * data.SampleSize, count * data.SampleSize));
            long batchBytes = 0;
            using (var results = session.Run(runOptions, [inputName], [input], fetched))
            {
                var i = 0;
                foreach (var value in results)
                {
                    var span = value.GetTensorDataAsSpan<float>();
                    histograms[fetched[i++]].Add(span);
                    batchBytes += span.Length * 4L;
                }
            }
            start += count;
            progress?.Invoke($"calibrating {start}/{data.Count} samples");
            if (fixedBatch == 0 && start == count)
            {
                // The first sample tells how large one sample's activations are; size later batches to the budget.
                var perSample = Math.Max(1, batchBytes / count);
                batch = (int)Math.Clamp(ActivationBudgetBytes / perSample, 1, 256);
            }
        }
        return histograms;
    }
}
