using Microsoft.ML.OnnxRuntime;
using ModelBuild.Runtime.Mapping;

namespace ModelBuild.Runtime.Sessions;

/// <summary>
/// Everything one call needs, allocated once: pinned input/output arrays wrapped as OrtValues and bound to an
/// OrtIoBinding. A run copies the input object into the arrays, calls RunWithBinding (no managed allocation:
/// names and handles are already on the native side) and copies the outputs back.
/// </summary>
internal sealed class InferenceContext<TIn, TOut> : IDisposable
    where TIn : class
    where TOut : class, new()
{
    private readonly InferenceSession _session;
    private readonly TensorMap<TIn, TOut> _map;
    private readonly InputBuffer<TIn>[] _inputs;
    private readonly TextInputBuffers<TIn>? _text;
    private readonly OutputBuffer<TOut>[]? _outputs;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions;

    public InferenceContext(ModelGeneration<TIn, TOut> generation, int rows, InferenceSession? session = null)
    {
        Generation = generation;
        Rows = rows;
        _session = session ?? generation.Session;
        IsSolo = session is not null && !ReferenceEquals(session, generation.Session);
        _map = generation.Map;
        _runOptions = new RunOptions();
        _binding = _session.CreateIoBinding();
        _inputs = new InputBuffer<TIn>[_map.Inputs.Length];
        try
        {
            for (int i = 0; i < _inputs.Length; i++)
            {
                _inputs[i] = _map.Inputs[i].CreateBuffer(rows);
                _binding.BindInput(_map.Inputs[i].TensorName, _inputs[i].Value);
            }
            if (_map.Text is not null)
            {
                _text = new TextInputBuffers<TIn>(_map.Text, rows, _binding);
            }
            if (_map.OutputsPreallocated)
            {
                _outputs = new OutputBuffer<TOut>[_map.Outputs.Length];
                for (int i = 0; i < _outputs.Length; i++)
                {
                    _outputs[i] = _map.Outputs[i].CreateBuffer(rows);
                    _binding.BindOutput(_map.Outputs[i].TensorName, _outputs[i].Value);
                }
            }
            else
            {
                foreach (var output in _map.Outputs)
                {
                    _binding.BindOutputToDevice(output.TensorName, OrtMemoryInfo.DefaultInstance);
                }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ModelGeneration<TIn, TOut> Generation { get; }

    public int Rows { get; }

    /// <summary>Bound to the generation's solo session (the recorded thread count, used while no other call is in flight).</summary>
    public bool IsSolo { get; }

    /// <summary>The engine object handed out by GetPredictionEngine; created once per context.</summary>
    public PredictionEngine<TIn, TOut>? Engine { get; set; }

    public void Run(TIn input, TOut output)
    {
        for (int i = 0; i < _inputs.Length; i++)
        {
            _inputs[i].Write(input, 0);
        }
        if (_text is not null)
        {
            Encode(input, 0);
            _text.Fill(_binding);
        }
        RunSession();
        ReadRow(output, 0);
    }

    /// <summary>
    /// The bound run. ONNX Runtime rejects some inputs only while running (a text longer than the model's position table,
    /// a token id beyond the vocabulary): MB0714 names the model and gives ONNX Runtime's reason, not a bare
    /// OnnxRuntimeException. The context stays usable; the next call binds its own input.
    /// </summary>
    private void RunSession()
    {
        try
        {
            _session.RunWithBinding(_runOptions, _binding);
        }
        catch (OnnxRuntimeException e)
        {
            var reason = e.Message.Split('\n')[0].Trim();
            throw new ModelRuntimeException(RuntimeErrorCodes.RunFailed,
                $"Model '{Generation.ModelName}' ({Generation.Info.Source}): ONNX Runtime could not run it on this input: {reason}",
                _text is not null
                    ? "Keep the text within what the model was exported for: set WithTokenizer(..., maxLength: N) to its position table's length (a longer text fails in the position embedding's Add)."
                    : "Check the input's values against what the model was exported for (token ids within the vocabulary, indices within range).",
                Generation.ModelName, e);
        }
    }

    /// <summary>Runs <see cref="Rows"/> inputs as one batch (one ONNX Runtime call) and fills the outputs.</summary>
    public void RunBatch(IReadOnlyList<TIn> inputs, IList<TOut> outputs)
    {
        for (int row = 0; row < Rows; row++)
        {
            var input = inputs[row];
            for (int i = 0; i < _inputs.Length; i++)
            {
                _inputs[i].Write(input, row);
            }
            if (_text is not null)
            {
                Encode(input, row);
            }
        }
        _text?.Fill(_binding);
        RunSession();
        if (_outputs is not null)
        {
            for (int row = 0; row < Rows; row++)
            {
                for (int i = 0; i < _outputs.Length; i++)
                {
                    _outputs[i].Read(outputs[row], row);
                }
            }
            return;
        }
        using var values = _binding.GetOutputValues();
        for (int row = 0; row < Rows; row++)
        {
            for (int i = 0; i < _map.Outputs.Length; i++)
            {
                _map.Outputs[i].ReadAllocated(values[i], outputs[row], row, Rows);
            }
        }
    }

    private void Encode(TIn input, int row)
    {
        try
        {
            _text!.Encode(input, row);
        }
        catch (ModelBuild.Text.UnicodeNormalizationUnavailableException e)
        {
            throw new ModelRuntimeException(RuntimeErrorCodes.TextNormalizationUnavailable,
                $"Model '{Generation.ModelName}': the text has accented characters and its BERT tokenizer strips accents, which needs Unicode normalization; this process runs with InvariantGlobalization.",
                "Set <InvariantGlobalization>false</InvariantGlobalization> in the app's project (and install libicu), or send text without accents.", Generation.ModelName, e);
        }
    }

    private void ReadRow(TOut output, int row)
    {
        if (_outputs is not null)
        {
            for (int i = 0; i < _outputs.Length; i++)
            {
                _outputs[i].Read(output, row);
            }
            return;
        }
        using var values = _binding.GetOutputValues();
        for (int i = 0; i < _map.Outputs.Length; i++)
        {
            _map.Outputs[i].ReadAllocated(values[i], output, row, Rows);
        }
    }

    public void Dispose()
    {
        _binding.Dispose();
        _text?.Dispose();
        foreach (var input in _inputs)
        {
            input?.Dispose();
        }
        if (_outputs is not null)
        {
            foreach (var output in _outputs)
            {
                output?.Dispose();
            }
        }
        _runOptions.Dispose();
    }
}
