using Microsoft.ML.OnnxRuntime;

namespace ModelBuild.Onnx.Tests.Infrastructure;

/// <summary>Runs a model file once in ONNX Runtime (one thread, errors only) and fingerprints every output.</summary>
public static class OrtRunner
{
    public static SessionOptions Options()
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        return options;
    }

    /// <summary>Output name -> fingerprint (type, shape, exact bytes), in output order.</summary>
    public static List<(string Name, string Fingerprint)> Run(string modelPath, IReadOnlyDictionary<string, Func<OrtValue>> inputs)
    {
        using var options = Options();
        using var session = new InferenceSession(modelPath, options);
        return Run(session, inputs);
    }

    public static List<(string Name, string Fingerprint)> Run(InferenceSession session, IReadOnlyDictionary<string, Func<OrtValue>> inputs)
    {
        var names = session.InputNames.Where(inputs.ContainsKey).ToList();
        var values = names.Select(n => inputs[n]()).ToList();
        try
        {
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, names, values, session.OutputNames);
            return session.OutputNames.Zip(outputs, (n, v) => (n, OrtTensors.Describe(v))).ToList();
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }
}
