using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// The figures the pruning report needs, measured in ONNX Runtime (one thread, default optimizations, as
/// the model would be served): first-output logits, top-1 accuracy, and median batch-1 latency. Data is one array
/// (a single-input model) or an <see cref="InputSet"/> of named arrays bound to every input by name (a multi-input
/// model: BERT's input_ids, attention_mask and token_type_ids), each fed as the element type the model declares.
/// </summary>
public sealed class PruningEvaluator : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string[] _inputs;
    private readonly string _output;
    private readonly int _maxBatch;

    public PruningEvaluator(OnnxModel model)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        _session = new InferenceSession(model.ToBytes(), options);
        _inputs = _session.InputMetadata.Keys.ToArray();
        _output = _session.OutputMetadata.Keys.First();
        int first = _session.InputMetadata[_inputs[0]].Dimensions[0];
        _maxBatch = first > 0 ? first : 256;
    }

    /// <summary>Logits for every row of <paramref name="x"/>, row-major [rows, classes].</summary>
    public float[] Logits(NpyArray x, out int classes) =>
        Logits(checked((int)x.Rows), (start, count) => [IntermediateTensorRunner.CreateBatch(x, start, count)], out classes);

    /// <summary>Logits for every sample of a set of named inputs (every model input by name), row-major [samples, classes].</summary>
    public float[] Logits(InputSet x, out int classes)
    {
        var bound = x.BindTo(_inputs, "evaluation data");
        return Logits(bound.Count, (start, count) => Feed(bound, start, count), out classes);
    }

    private float[] Logits(int rows, Func<int, int, OrtValue[]> batch, out int classes)
    {
        var all = new List<float>();
        classes = 0;
        using var runOptions = new RunOptions();
        for (int start = 0; start < rows; start += _maxBatch)
        {
            int count = Math.Min(_maxBatch, rows - start);
            var inputs = batch(start, count);
            try
            {
                using var results = _session.Run(runOptions, _inputs, inputs, new[] { _output });
                var span = results[0].GetTensorDataAsSpan<float>();
                classes = span.Length / count;
                all.AddRange(span.ToArray());
            }
            finally
            {
                foreach (var input in inputs) input.Dispose();
            }
        }
        return all.ToArray();
    }

    /// <summary>Samples [start, start+count) of every bound input, as the element type the model declares (int32 ids too).</summary>
    private OrtValue[] Feed(InputSet bound, int start, int count) =>
        bound.Inputs.Select(i => ModelRunner.CreateInput(i.Slice(start, count), _session.InputMetadata[i.Name!].ElementDataType)).ToArray();

    /// <summary>Top-1 accuracy in percent.</summary>
    public double Accuracy(NpyArray x, NpyArray y) => Top1(Logits(x, out int classes), classes, y.ToInt64Array());

    /// <summary>Top-1 accuracy in percent on a set of named inputs.</summary>
    public double Accuracy(InputSet x, NpyArray y) => Top1(Logits(x, out int classes), classes, y.ToInt64Array());

    private static double Top1(float[] logits, int classes, long[] labels)
    {
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
        return LatencyMicroseconds([input], runs);
    }

    /// <summary>Median microseconds of a batch-1 run on sample 0 of a set of named inputs.</summary>
    public double LatencyMicroseconds(InputSet x, int runs = 200)
    {
        var inputs = Feed(x.BindTo(_inputs, "evaluation data"), 0, 1);
        try
        {
            return LatencyMicroseconds(inputs, runs);
        }
        finally
        {
            foreach (var input in inputs) input.Dispose();
        }
    }

    private double LatencyMicroseconds(OrtValue[] inputs, int runs)
    {
        using var runOptions = new RunOptions();
        var names = _inputs;
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
