using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// The figures the pruning report needs, measured in ONNX Runtime (one thread, default optimizations, as
/// the model would be served): first-output logits, top-1 accuracy, and median batch-1 latency.
/// </summary>
public sealed class PruningEvaluator : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string _output;
    private readonly int _maxBatch;

    public PruningEvaluator(OnnxModel model)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        _session = new InferenceSession(model.ToBytes(), options);
        _input = _session.InputMetadata.Keys.Single();
        _output = _session.OutputMetadata.Keys.First();
        int first = _session.InputMetadata[_input].Dimensions[0];
        _maxBatch = first > 0 ? first : 256;
    }

    /// <summary>Logits for every row of <paramref name="x"/>, row-major [rows, classes].</summary>
    public float[] Logits(NpyArray x, out int classes)
    {
        var all = new List<float>();
        classes = 0;
        using var runOptions = new RunOptions();
        for (int start = 0; start < x.Rows; start += _maxBatch)
        {
            int count = (int)Math.Min(_maxBatch, x.Rows - start);
            using var input = IntermediateTensorRunner.CreateBatch(x, start, count);
            using var results = _session.Run(runOptions, new[] { _input }, new[] { input }, new[] { _output });
            var span = results[0].GetTensorDataAsSpan<float>();
            classes = span.Length / count;
            all.AddRange(span.ToArray());
        }
        return all.ToArray();
    }

    /// <summary>Top-1 accuracy in percent.</summary>
    public double Accuracy(NpyArray x, NpyArray y)
    {
        float[] logits = Logits(x, out int classes);
        long[] labels = y.ToInt64Array();
        int correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            var row = logits.AsSpan(i * classes, classes);
            int best = 0;
            for (int c = 1; c < classes; c++)
            {
                if (row[c] > row[best])
                {
                    best = c;
                }
            }
            correct += best == labels[i] ? 1 : 0;
        }
        return 100.0 * correct / labels.Length;
    }

    /// <summary>
    /// Median microseconds of a batch-1 run on row 0 of <paramref name="x"/>, after warm-up, with the input and
    /// output OrtValues allocated once (as a serving pool does), so the figure is the model's work plus ORT's
    /// fixed per-call cost, not managed allocations.
    /// </summary>
    public double LatencyMicroseconds(NpyArray x, int runs = 200)
    {
        using var input = IntermediateTensorRunner.CreateBatch(x, 0, 1);
        using var runOptions = new RunOptions();
        var inputs = new[] { input };
        var names = new[] { _input };
        var outputNames = new[] { _output };
        long[] outputShape;
        using (var first = _session.Run(runOptions, names, inputs, outputNames))
        {
            outputShape = first[0].GetTensorTypeAndShape().Shape;
        }
        long count = outputShape.Aggregate(1L, (a, b) => a * b);
        using var output = OrtValue.CreateTensorValueFromMemory(new float[count], outputShape);
        var outputs = new[] { output };
        for (int i = 0; i < 50; i++)
        {
            _session.Run(runOptions, names, inputs, outputNames, outputs);
        }
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            _session.Run(runOptions, names, inputs, outputNames, outputs);
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        Array.Sort(times);
        return times[runs / 2];
    }

    public void Dispose() => _session.Dispose();
}
