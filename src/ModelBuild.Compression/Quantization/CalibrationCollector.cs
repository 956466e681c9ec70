using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using Onnx;

namespace ModelBuild.Compression.Quantization;

/// <summary>
/// Streams calibration data (every input of the model) through the float model with the tensors to calibrate exposed
/// as extra outputs and folds each batch into one <see cref="ActivationHistogram"/> per tensor. Batches are sized so that
/// the exposed activations of one batch stay under a fixed budget, so memory does not grow with the number of samples.
/// </summary>
public sealed class CalibrationCollector
{
    public const long ActivationBudgetBytes = 64L << 20;

    public CalibrationCollector(int threads = 1) => Threads = threads;

    public int Threads { get; }

    public Dictionary<string, ActivationHistogram> Collect(ModelProto model, IReadOnlyList<string> tensors, InputSet data, Action<string>? progress = null)
    {
        var histograms = tensors.Distinct().ToDictionary(t => t, _ => new ActivationHistogram(), StringComparer.Ordinal);
        if (histograms.Count == 0) return histograms;
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var inputNames = model.Graph.Input.Select(i => i.Name).Where(n => !initializers.Contains(n)).ToHashSet(StringComparer.Ordinal);
        var fetched = histograms.Keys.Where(name => !inputNames.Contains(name)).ToList();
        using (var observed = new ObservedModel(model, fetched, Threads, "calibration"))
        {
            var runner = observed.Runner;
            var bound = runner.Bind(data, "calibration data");
            using var runOptions = new RunOptions();
            var fixedBatch = runner.BatchSize(0);
            var batch = fixedBatch > 0 ? fixedBatch : 1;
            var start = 0;
            while (start < bound.Count)
            {
                var count = Math.Min(batch, bound.Count - start);
                if (fixedBatch > 0 && count != fixedBatch) break;
                foreach (var input in bound.Inputs)
                    if (histograms.TryGetValue(input.Name!, out var inputHistogram) && input.Tensor.IsFloat)
                        inputHistogram.Add(input.Slice(start, count).Floats);
                long batchBytes = 0;
                var i = 0;
                foreach (var values in runner.RunBatch(runOptions, bound, start, count, fetched))
                {
                    histograms[fetched[i++]].Add(values);
                    batchBytes += values.Length * 4L;
                }
                start += count;
                progress?.Invoke($"calibrating {start}/{bound.Count} samples");
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
}
