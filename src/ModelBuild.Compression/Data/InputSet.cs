
namespace ModelBuild.Compression.Data;

/// <summary>
/// The data set of every stage: one or many named inputs, in order, each a tensor of the same number of samples
/// (evaluation, calibration and training inputs, timing samples, generated inputs). A single unnamed array (a
/// <c>.npy</c>) is the common case and binds to a single-input model's one input; a <c>.npz</c> with one array per
/// input name, a multi-column table or a tokenizer fill several. Labels, when there are, travel beside it in
/// <see cref="LabeledData"/>. <see cref="BindTo"/> matches the set to a model's inputs (by name) before a run.
/// </summary>
public sealed class InputSet
{
    public InputSet(IEnumerable<NamedTensor> inputs)
    {
        Inputs = inputs.ToArray();
        if (Inputs.Count == 0) throw new ArgumentException("An input set holds at least one input.", nameof(inputs));
        var names = Inputs.Where(i => i.Name is not null).Select(i => i.Name!).ToList();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            throw new ArgumentException($"Input names repeat: {string.Join(", ", names)}.", nameof(inputs));
        var first = Inputs[0];
        foreach (var other in Inputs.Skip(1))
            if (other.Count != first.Count) throw InputSetErrors.Counts(first, other);
    }

    /// <summary>A single unnamed array (what a .npy, a CSV or an image folder gives).</summary>
    public static InputSet Of(DataTensor tensor) => new([new NamedTensor(null, tensor)]);

    /// <summary>Named arrays, samples on axis 0 of each (what a .npz with one array per input gives).</summary>
    public static InputSet Of(IEnumerable<(string Name, DataTensor Tensor)> inputs) => new(inputs.Select(i => new NamedTensor(i.Name, i.Tensor)));

    /// <summary>Existing single-input code passes a <see cref="DataTensor"/> where a set is taken.</summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(tensor))]
    public static implicit operator InputSet?(DataTensor? tensor) => tensor is null ? null : Of(tensor);

    public IReadOnlyList<NamedTensor> Inputs { get; }
    public int Count => Inputs[0].Count;
    public bool IsSingle => Inputs.Count == 1;

    /// <summary>Where the data came from, for messages: the file(s) of the inputs.</summary>
    public string Path => string.Join(", ", Inputs.Select(i => i.Tensor.Path).Distinct(StringComparer.Ordinal));

    /// <summary>The one tensor of a single-input set; MB0581 when the set has several (the caller takes one input only).</summary>
    public DataTensor Single(string role = "data") => IsSingle ? Inputs[0].Tensor : throw InputSetErrors.NotSingle(this, role);

    public DataTensor? Find(string name) => Inputs.FirstOrDefault(i => i.Name == name)?.Tensor;

    /// <summary>Samples [start, start+count) of every input.</summary>
    public InputSet Slice(int start, int count) =>
        new(Inputs.Select(i => i with { Tensor = i.Slice(start, count) }));

    /// <summary>Exactly <paramref name="count"/> samples, repeating from the first when the set has fewer (a batch to time).</summary>
    public InputSet Cycle(int count) => new(Inputs.Select(i => i with { Tensor = i.Cycle(count) }));

    /// <summary>The first <paramref name="count"/> samples (all when there are fewer).</summary>
    public InputSet Take(int count) => count >= Count ? this : Slice(0, count);

    /// <summary>MB0503 when any float value is NaN or infinite.</summary>
    public void EnsureFinite()
    {
        foreach (var input in Inputs) input.Tensor.EnsureFinite();
    }

    /// <summary>
    /// The set with one input per model input, in the model's order and named as the model names them:
    /// a lone array binds to a single-input model whatever it is called; otherwise every model input must be present by
    /// name (extra arrays, e.g. labels saved in the same .npz, are left out). MB0508 for one array and several model
    /// inputs, MB0582 for missing names. <paramref name="sampleAxes"/> gives the sample axis per model input (0 when absent).
    /// </summary>
    public InputSet BindTo(IReadOnlyList<string> modelInputs, string role, IReadOnlyDictionary<string, int>? sampleAxes = null)
    {
        int Axis(string name) => sampleAxes is not null && sampleAxes.TryGetValue(name, out var a) ? a : 0;
        if (modelInputs.Count == 1 && IsSingle)
            return new([new NamedTensor(modelInputs[0], Inputs[0].Tensor, Axis(modelInputs[0]))]);
        if (IsSingle && Inputs[0].Name is null) throw InputSetErrors.OneArrayForMany(this, modelInputs, role);
        var missing = modelInputs.Where(n => Find(n) is null).ToList();
        if (missing.Count > 0) throw InputSetErrors.Missing(this, modelInputs, missing, role);
        return new(modelInputs.Select(n => new NamedTensor(n, Find(n)!, Axis(n))));
    }

    public override string ToString() => string.Join(", ", Inputs.Select(i => $"{i.Name ?? "(unnamed)"} {i.Tensor.ShapeText} {i.Tensor.ElementTypeName}"));
}
