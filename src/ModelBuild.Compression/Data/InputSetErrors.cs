using ModelBuild.Onnx.Diagnostics;

namespace ModelBuild.Compression.Data;

/// <summary>The errors of matching an <see cref="InputSet"/> with a model's inputs (MB0508, MB0580-MB0582; docs/diagnostics.md).</summary>
public static class InputSetErrors
{
    public static ModelBuildException SeveralModelInputs(string model, IReadOnlyList<string> modelInputs) => new("MB0508", $"'{model}' has {modelInputs.Count} inputs ({string.Join(", ", modelInputs)}) where one is read.", "Give the data as a .npz with one array per input name.", model);

    public static ModelBuildException Counts(NamedTensor first, NamedTensor other) => new("MB0580", $"The input '{first.Name}' has {first.Count} samples but '{other.Name}' has {other.Count} ('{other.Tensor.Path}').", "Save every input of a sample together: each array needs the same number of samples on its sample axis.", other.Tensor.Path);

    public static ModelBuildException NotSingle(InputSet set, string role) => new("MB0581", $"The {role} '{set.Path}' holds {set.Inputs.Count} inputs ({string.Join(", ", set.Inputs.Select(i => i.Name))}) where one input is taken.", "Give this option one array (a .npy, or file.npz:name).", set.Path);

    public static ModelBuildException OneArrayForMany(InputSet set, IReadOnlyList<string> modelInputs, string role) => new("MB0508", $"The {role} '{set.Path}' is one array but the model has {modelInputs.Count} inputs ({string.Join(", ", modelInputs)}).", $"Save a .npz with one array per input name: np.savez(path, {string.Join(", ", modelInputs.Select(n => $"{n}=..."))}).", set.Path);

    public static ModelBuildException Missing(InputSet set, IReadOnlyList<string> modelInputs, IReadOnlyList<string> missing, string role) => new("MB0582", $"The {role} '{set.Path}' has no array for the model input(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} (it has {string.Join(", ", set.Inputs.Select(i => $"'{i.Name}'"))}; the model takes {string.Join(", ", modelInputs)}).", "Name the arrays as the model names its inputs (np.savez(path, input_ids=..., attention_mask=...)); `modelbuild inspect` lists them.", set.Path);
}
