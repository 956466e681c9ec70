namespace ModelBuild.Runtime;

/// <summary>The runtime's diagnostic codes (docs/diagnostics.md lists them with cause and fix).</summary>
public static class RuntimeErrorCodes
{
    /// <summary>The model file or download could not be loaded by ONNX Runtime.</summary>
    public const string ModelLoadFailed = "MB0701";
    /// <summary>A property's column name names no tensor of the model.</summary>
    public const string UnknownColumn = "MB0702";
    /// <summary>A property's element type differs from the tensor's element type.</summary>
    public const string ElementTypeMismatch = "MB0703";
    /// <summary>A property's shape (VectorType or scalar) differs from the tensor's shape.</summary>
    public const string ShapeMismatch = "MB0704";
    /// <summary>A mapped property has a type the runtime cannot bind.</summary>
    public const string UnsupportedPropertyType = "MB0705";
    /// <summary>No model with this name is registered in the pool.</summary>
    public const string UnknownModel = "MB0706";
    /// <summary>A model input is not provided by any property of the input class.</summary>
    public const string MissingInput = "MB0707";
    /// <summary>A tensor dimension is dynamic and the property declares no VectorType to fix it.</summary>
    public const string UnresolvedDimension = "MB0708";
    /// <summary>The model could not be downloaded from its URI.</summary>
    public const string DownloadFailed = "MB0709";
    /// <summary>An input array has a different length than the tensor needs.</summary>
    public const string InputLengthMismatch = "MB0710";
    /// <summary>PredictBatch was called on a model without a dynamic batch axis.</summary>
    public const string NoBatchAxis = "MB0711";
    /// <summary>A model with this name is already registered.</summary>
    public const string DuplicateModel = "MB0712";
    /// <summary>The configured execution provider is not available in this ONNX Runtime build.</summary>
    public const string ExecutionProviderUnavailable = "MB0713";
    /// <summary>ONNX Runtime failed while running the model on an input (e.g. a text longer than its position table).</summary>
    public const string RunFailed = "MB0714";
    /// <summary>The background poll of a FromUri model failed with an unexpected exception (logged as an error).</summary>
    public const string PollFailedUnexpectedly = "MB0720";
    /// <summary>The tokenizer file configured for a model cannot be read (WithTokenizer / ModelTokenizerOptions).</summary>
    public const string TokenizerUnreadable = "MB0730";
    /// <summary>A model has a tokenizer but the input class has no single string property for the text.</summary>
    public const string NoTextProperty = "MB0731";
    /// <summary>A model has a tokenizer but a token input it would fill is not int32/int64 [batch, sequence], there is no input_ids, or MaxLength contradicts the model.</summary>
    public const string TokenInputUnfillable = "MB0732";
    /// <summary>Text needs Unicode normalization (accent stripping) and the process runs with InvariantGlobalization.</summary>
    public const string TextNormalizationUnavailable = "MB0733";
    /// <summary>A model's session settings sidecar (&lt;model&gt;.session.json) is not valid JSON or has invalid values.</summary>
    public const string SessionSettingsMalformed = "MB0740";
}
