using ModelBuild.Compression.Data.Text;

namespace ModelBuild.Compression.Data;

/// <summary>
/// The one entry point for data files: picks the reader by extension or folder shape and returns inputs plus labels
/// (from the data itself, or from a separate labels file, never both). Every data option of the CLI
/// (<c>--train-data</c>, <c>--eval-data</c>, <c>--calibration-data</c>, <c>eval --data</c>) and of MSBuild
/// (<c>TrainingData</c>, <c>EvaluationData</c>, <c>CalibrationData</c>) reads through here.
/// <list type="bullet">
/// <item><c>.npy</c>, <c>.npz</c>, <c>file.npz:name</c>: <see cref="NpyDataReader"/>.</item>
/// <item><c>.ids</c>, <c>.tokens</c>, and <c>.txt</c> for a model with an integer input: <see cref="TokenIdFileReader"/>.</item>
/// <item><c>.csv</c>, <c>.tsv</c>, <c>.txt</c> with a tokenizer: <see cref="TextFileReader"/> (text column, label column optional).</item>
/// <item><c>.csv</c>, <c>.tsv</c>, other <c>.txt</c>: <see cref="CsvDataReader"/> (label column optional); for a model with
/// several inputs whose names the header has, <see cref="NamedColumnTableReader"/> (one column per input).</item>
/// <item><c>.npz</c> for a model with several inputs: one array per input name; <c>generated[:N]</c>: inputs generated
/// from the model (<see cref="SyntheticSample"/>).</item>
/// <item>a folder with <c>test_data_set_*</c> or <c>.pb</c> files: <see cref="TensorProtoFolderReader"/>.</item>
/// <item>a folder of images, or of class subfolders of images: <see cref="ImageFolderReader"/>.</item>
/// </list>
/// Counting labels against samples is left to the caller, whose error names the role (training, evaluation).
/// </summary>
public static class DataSource
{
    public static LabeledData Read(string spec, DataReadOptions options, string? labelsSpec = null)
    {
        var data = ReadInputs(spec, options);
        if (labelsSpec is null) return data;
        if (data.Labels is not null) throw DataErrors.Twice(spec, labelsSpec);
        return data with { Labels = ReadLabels(labelsSpec), LabelSource = labelsSpec };
    }

    /// <summary>
    /// Where the labels of <paramref name="spec"/> come from, for reports, without reading the data: the labels file,
    /// the CSV label column, the class subfolders, or null when there are none.
    /// </summary>
    public static string? DescribeLabels(string spec, DataReadOptions options, string? labelsSpec)
    {
        if (labelsSpec is not null) return Path.GetFileName(labelsSpec);
        if (Directory.Exists(spec))
        {
            return !TensorProtoFolderReader.LooksLikeTensorFolder(spec) && Directory.GetDirectories(spec).Length > 0
                ? $"class subfolders of {Path.GetFileName(Path.TrimEndingDirectorySeparator(spec))}" : null;
        }
        if (options.Tokenizer is not null && TextFileReader.Handles(spec))
        {
            var names = options.ClassNames is null ? "" : $" (names in {Path.GetFileName(options.ClassNames)})";
            return options.LabelColumn is { } c ? $"column '{c}' of {Path.GetFileName(spec)}{names}"
                : options.ClassNames is not null ? $"the label column of {Path.GetFileName(spec)}{names}" : null;
        }
        var table = CsvDataReader.Handles(spec) && !TokenIdFileReader.Extensions.Contains(Path.GetExtension(spec), StringComparer.OrdinalIgnoreCase);
        return table && options.LabelColumn is { } column ? $"column '{column}' of {Path.GetFileName(spec)}" : null;
    }

    /// <summary>Inputs only (calibration data, timing samples), one or many; embedded labels are dropped.</summary>
    public static InputSet ReadInputSet(string spec, DataReadOptions options) => ReadInputs(spec, options).Inputs;

    /// <summary>The one input of single-input data (MB0581 when the file holds several).</summary>
    public static DataTensor ReadTensor(string spec, DataReadOptions options) => ReadInputs(spec, options).Inputs.Single(spec);

    /// <summary>Samples generated when the spec is <c>generated</c> (this many) or <c>generated:N</c>.</summary>
    public const int DefaultGeneratedSamples = 32;

    static LabeledData ReadInputs(string spec, DataReadOptions options)
    {
        // A file or folder that exists but cannot be read (permissions, a lock, an I/O error) is MB0101 naming it,
        // whichever reader met it.
        try { return ReadInputsOf(spec, options); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw DataErrors.Unreadable(spec, e); }
    }

    static LabeledData ReadInputsOf(string spec, DataReadOptions options)
    {
        if (Pipeline.Contract.DataInputHash.IsGenerated(spec)) return new LabeledData(Generate(spec, options), null, null);
        if (NpyDataReader.NpzPath(spec) is { } archive && archive.Length == spec.Length && options.Inputs.Count > 1)
            return new LabeledData(ReadNamedArrays(archive, options), null, null);
        if (NpyDataReader.Handles(spec)) return new LabeledData(FitIntegers(NpyDataReader.Read(spec), options.Input), null, null);
        if (Directory.Exists(spec))
        {
            if (TensorProtoFolderReader.LooksLikeTensorFolder(spec))
                return new LabeledData(TensorProtoFolderReader.Read(spec, options.Input), null, null);
            if (ImageFolderReader.LooksLikeImageFolder(spec)) return ImageFolderReader.Read(spec, options);
            throw DataErrors.Unknown(spec, "the folder holds neither images nor TensorProto .pb files");
        }
        if (!File.Exists(spec)) throw DataErrors.Missing(spec);
        if (options.Tokenizer is not null && TextFileReader.Handles(spec))
        {
            var text = ReadText(spec, options);
            var tensors = text.Tensors;
            return new LabeledData(InputSet.Of(text.Inputs.Select(i => (i.Name, tensors[i.Name]))), text.Labels, text.LabelSource) { Texts = text.Texts };
        }
        if (options.TextColumn is not null || options.MaxLength is not null)
            throw TextDataErrors.NoTokenizer(spec, options.TextColumn is not null ? "--text-column was given but no tokenizer" : "--max-length was given but no tokenizer");
        if (TokenIdFileReader.Extensions.Contains(Path.GetExtension(spec), StringComparer.OrdinalIgnoreCase)
            || (spec.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) && options.Input is { IsFloat: false }))
            return new LabeledData(TokenIdFileReader.Read(spec, options.Input, options.PadId), null, null);
        if (CsvDataReader.Handles(spec) && NamedColumnTableReader.Handles(spec, options.Inputs))
            return NamedColumnTableReader.Read(spec, options.Inputs, options.LabelColumn);
        if (CsvDataReader.Handles(spec))
        {
            var table = CsvDataReader.Read(spec, options.LabelColumn);
            return table with { Inputs = FitTable(table.Inputs.Single(spec), options.Input) };
        }
        throw DataErrors.Unknown(spec, $"the extension '{Path.GetExtension(spec)}' is not one ModelBuild reads");
    }

    /// <summary>
    /// A text file read with <see cref="DataReadOptions.Tokenizer"/> into the tensors the model's inputs take (all
    /// three conventional ones when no model is known).
    /// </summary>
    public static TokenizedText ReadText(string spec, DataReadOptions options)
    {
        var inputs = options.ModelPath is { } model && File.Exists(model) ? TextModelInputs.FromModel(model) : null;
        return TextFileReader.Read(spec, options.Tokenizer!, options.TextColumn, options.LabelColumn, options.ClassNames, options.MaxLength, inputs);
    }

    /// <summary>
    /// Class ids, one per sample: a .npy/.npz of integers (or of whole-valued floats, as numpy often saves labels), or a
    /// text file with one class id (or class name, numbered in ordinal order) per line.
    /// </summary>
    public static long[] ReadLabels(string spec)
    {
        try { return ReadLabelsOf(spec); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw DataErrors.Unreadable(spec, e); }
    }

    static long[] ReadLabelsOf(string spec)
    {
        if (NpyDataReader.Handles(spec))
        {
            var array = NpyDataReader.ReadArray(spec);
            if (array.Rank > 2 || (array.Rank == 2 && array.Shape[1] != 1))
                throw DataErrors.LabelValue(spec, $"the array has shape [{string.Join(",", array.Shape)}]; labels are [samples] (or [samples,1]) class ids");
            if (array.Data is float[] or double[] or Half[])
            {
                var values = array.ToSingleArray();
                var bad = Array.FindIndex(values, v => v != MathF.Floor(v) || v < 0);
                if (bad >= 0) throw DataErrors.LabelValue(spec, $"entry {bad} is {values[bad]}, not a whole number >= 0 (soft labels are not read; the teacher supplies soft targets)");
                return Array.ConvertAll(values, v => (long)v);
            }
            if (array.FirstBeyondInt64() is (var at, var big))
                throw DataErrors.LabelValue(spec, $"entry {at} is {big}, far beyond any class id");
            var ids = array.ToInt64Array();
            if (Array.FindIndex(ids, v => v < 0) is var negative and >= 0)
                throw DataErrors.LabelValue(spec, $"entry {negative} is {ids[negative]}, not a class id >= 0");
            return ids;
        }
        if (File.Exists(spec) && (CsvDataReader.Handles(spec) || spec.EndsWith(".labels", StringComparison.OrdinalIgnoreCase)))
            return CsvDataReader.ReadLabelColumn(spec);
        if (!File.Exists(spec)) throw DataErrors.Missing(spec);
        throw DataErrors.Unknown(spec, "labels are read from .npy/.npz or from a text file (.txt, .csv, .tsv, .labels) with one class per line");
    }

    /// <summary>
    /// uint8/uint16 arrays (pixels as numpy keeps them) for a float input become float32. Wider integers stay int64, so
    /// token ids given to a float model are still the dtype error (MB0509) they most likely are.
    /// </summary>
    static DataTensor FitIntegers(DataTensor data, ModelInputSignature? input)
    {
        if (data.IsFloat || data.SourceDtype is not (nameof(NpyDType.UInt8) or nameof(NpyDType.UInt16)) || input is not { IsFloat: true }) return data;
        return new DataTensor(data.Path, data.Shape, Array.ConvertAll(data.Int64s!, v => (float)v), null, data.SourceDtype);
    }

    /// <summary>
    /// <c>generated[:N]</c>: N samples of every model input from <see cref="SyntheticSample"/> (valid ids, masks of 1, small
    /// dynamic sizes). For timing and calibration of models that come without data; there are no labels.
    /// </summary>
    static InputSet Generate(string spec, DataReadOptions options)
    {
        var colon = spec.IndexOf(':');
        var count = DefaultGeneratedSamples;
        if (colon > 0 && (!int.TryParse(spec[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count) || count < 1))
            throw DataErrors.Option("data", spec, "write generated or generated:N with N a whole number above 0");
        if (options.ModelPath is null) throw DataErrors.Option("data", spec, "generated inputs need the model they are for");
        return SyntheticSample.For(options.ModelPath, count);
    }

    /// <summary>
    /// A .npz for a model with several inputs: one array per input name (<c>np.savez(path, input_ids=..., ...)</c>), in
    /// the model's order; arrays the model does not take (labels kept in the same archive) are left out. When names are
    /// missing every array is kept, so that binding to the model says which input has no array (MB0582).
    /// </summary>
    static InputSet ReadNamedArrays(string archive, DataReadOptions options)
    {
        var arrays = NpzArchive.Read(archive);
        if (arrays.Count == 0) throw NpyErrors.Npz(archive, "it holds no arrays");
        var inputs = options.Inputs;
        var chosen = inputs.All(i => arrays.ContainsKey(i.Name))
            ? inputs.Select(i => (i.Name, Input: (ModelInputSignature?)i))
            : arrays.Keys.Select(n => (Name: n, Input: inputs.FirstOrDefault(i => i.Name == n)));
        return InputSet.Of(chosen.Select(c => (c.Name, FitIntegers(NpyDataReader.ToDataTensor($"{archive}:{c.Name}", arrays[c.Name]), c.Input))));
    }

    /// <summary>
    /// A table is [rows, columns] floats; a model may take integers (ids written as numbers) or a higher-rank input with
    /// the same number of elements per sample ([N,130,13] for 1690 columns): make it what the model takes.
    /// </summary>
    static DataTensor FitTable(DataTensor table, ModelInputSignature? input)
    {
        if (input is null) return table;
        var shape = table.Shape;
        if (input.Dimensions.Length > 2 && input.FixedSampleSize == table.SampleSize)
            shape = [table.Count, .. input.Dimensions[1..]];
        if (!input.IsFloat && table.Floats!.All(v => v == MathF.Floor(v)))
            return new DataTensor(table.Path, shape, null, Array.ConvertAll(table.Floats!, v => (long)v), table.SourceDtype);
        return new DataTensor(table.Path, shape, table.Floats, null, table.SourceDtype);
    }
}
