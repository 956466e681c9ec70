using System.Diagnostics;
using ModelBuild.Compression.Distillation.Import;
using ModelBuild.Compression.Distillation.Losses;
using ModelBuild.Compression.Distillation.Students;
using ModelBuild.Compression.Data;
using ModelBuild.Compression.Structure;
using ModelBuild.Compression.Distillation.Synthetic;
using ModelBuild.Compression.Distillation.Teachers;
using ModelBuild.Onnx;
using ModelBuild.Onnx.Diagnostics;
using Onnx;
using TorchSharp;
using Kept = ModelBuild.Compression.Native.KeptScalar;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ModelBuild.Compression.Distillation;

/// <summary>
/// Knowledge distillation from an ONNX teacher into an ONNX student, in .NET: the student graph is imported into
/// TorchSharp (<see cref="OnnxGraphImporter"/>), trained with AdamW under a warm-up + cosine schedule against the
/// teacher's outputs (precomputed once with ONNX Runtime) and optional labels, hidden features or batch relations,
/// and written back as the same ONNX graph with trained weights (<see cref="OnnxStudentExporter"/>), atomically.
/// Deterministic for a seed: torch's generator is seeded and batches are shuffled with a seeded <see cref="Random"/>.
/// Every bad input is an MB03xx <see cref="ModelBuildException"/>, raised before anything is written.
/// </summary>
public static class StudentDistiller
{
    public static DistillationResult Distill(DistillationOptions options, IProgress<DistillationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Validate(options);
        if (options.Seeds <= 1) return DistillSeed(options, options.Seed, options.OutputPath, null, progress, cancellationToken);

        // Several seeds: the same data, teacher answers and validation rows (split by the first seed) for each
        // student; the one with the best validation agreement (then the lowest validation loss) is kept.
        var shared = new SharedData();
        var runs = new List<DistillationResult>();
        try
        {
            for (int k = 0; k < options.Seeds; k++)
                runs.Add(DistillSeed(options, options.Seed + k, $"{options.OutputPath}.seed{k}.tmp", shared, progress, cancellationToken));
            var best = runs.Aggregate((a, b) => IsBetter(b.ValidationAgreement!.Value, b.ValidationLoss!.Value, a.ValidationAgreement!.Value, a.ValidationLoss!.Value) ? b : a);
            File.Move(best.OutputPath, options.OutputPath, overwrite: true);
            return best with
            {
                OutputPath = options.OutputPath,
                SelectedSeed = best.SelectedSeed,
                SeedRuns = runs.Select(r => r.SeedRuns![0]).ToList(),
                TeacherCalls = runs[0].TeacherCalls, // the answers were asked once, by the first student's run
            };
        }
        finally
        {
            foreach (var r in runs) if (r.OutputPath != options.OutputPath && File.Exists(r.OutputPath)) File.Delete(r.OutputPath);
        }
    }

    /// <summary>Training inputs, labels and teacher answers computed by the first seed's run and reused by the others.</summary>
    sealed class SharedData
    {
        public TrainingInputs? Inputs;
        public Tensor? Labels;
        public TeacherAnswers? Answers;
    }

    /// <summary>Validation order of two epochs or students: higher agreement with the teacher, then lower validation loss.</summary>
    static bool IsBetter(double agreement, double loss, double bestAgreement, double bestLoss) =>
        agreement > bestAgreement || (agreement == bestAgreement && loss < bestLoss);

    /// <summary>One student: data and split from <see cref="DistillationOptions.Seed"/>, initial weights and batch order from <paramref name="trainSeed"/>.</summary>
    /// <remarks>The steps run in this order because each draws from torch's seeded generator (initializers, data-free synthesis, projections, dropout).</remarks>
    static DistillationResult DistillSeed(DistillationOptions options, int trainSeed, string outputPath, SharedData? shared,
        IProgress<DistillationProgress>? progress, CancellationToken cancellationToken)
    {
        Native.LibTorchLoader.EnsureLoaded();
        torch.set_num_threads(options.Threads ?? Environment.ProcessorCount);
        torch.manual_seed(trainSeed);

        var models = PrepareModels(options);
        using var student = ImportStudent(options, models, out var layerPairs, out var activationQuantization);
        var data = PrepareData(options, models, student, shared, progress);
        var split = SplitRows(options, models, student, data);
        split.Augment = options.Augment ?? AugmentationDefaults.For(options, models.Reinitialize, models.Teacher.Proto, data.Inputs);
        if (split.Augment > 0) Augment(options, models, student, data, split);
        using var losses = PrepareLosses(options, models, student, data, layerPairs);
        ConfigureStudent(options, student, activationQuantization);
        var run = Train(options, models.LearningRate, trainSeed, student, data, split, losses, progress, cancellationToken);
        return Finish(options, trainSeed, outputPath, models, student, data, split, losses, run, activationQuantization);
    }

    /// <summary>The teacher and student graphs as they train, and what the report says about the student's start.</summary>
    sealed class SeedModels
    {
        public required OnnxModel Teacher;
        public required bool TeacherFixedBatch;
        public required ModelProto Student;
        public required bool StudentFixedBatch;
        public required string StudentName;
        public required bool Reinitialize;
        public required string Initialization;
        public TransformerLayerMap? LayerMap;
        public required IReadOnlyList<string> TrainNorms;
        /// <summary><c>--learning-rate</c>, or its default for this kind of student.</summary>
        public required double LearningRate;
    }

    static SeedModels PrepareModels(DistillationOptions options)
    {
        var teacherModel = OnnxModel.Load(options.TeacherPath);
        // Training and teacher labelling run in batches. A graph exported with a fixed batch of 1 (mnist-cnn-pytorch)
        // is generalized to any batch for that (batch 1 computes the same), and the student is written back with the
        // batch-1 interface it came with (its file's, or for a derived student the teacher's).
        bool teacherFixedBatch = DynamicBatch.IsFixedBatchOne(teacherModel.Proto);
        if (teacherFixedBatch) DynamicBatch.Apply(teacherModel.Proto);
        StudentDerivation? fromTeacher = null;
        ModelProto studentProto;
        if (options.StudentPath is { } sp) studentProto = OnnxModel.Load(sp).Proto;
        else (studentProto, fromTeacher) = StudentDeriver.DeriveWithOrigin(teacherModel.Proto, options.StudentWidth ?? 1.0, options.StudentDepth ?? 1.0, options.StudentFfnWidth, options.TeacherPath);
        bool studentFixedBatch = options.StudentPath is null ? teacherFixedBatch : DynamicBatch.IsFixedBatchOne(studentProto);
        if (studentFixedBatch) DynamicBatch.Apply(studentProto);
        string studentName = options.StudentPath ?? $"student derived from {options.TeacherPath}";
        // A file's weights, or a graph student's weights taken from the teacher (DistilBERT's recipe), are the starting
        // point unless asked otherwise; an MLP student is rebuilt without weights and always starts fresh.
        bool reinitialize = options.Reinitialize || (options.StudentPath is null && fromTeacher is null);
        string initialization = reinitialize ? "PyTorch default initializers"
            : fromTeacher is not null ? "the teacher's weights: " + DescribeKept(fromTeacher)
            : "the student file's weights";

        // Layer-wise loss: student layers mapped to teacher layers from both graphs' structure.
        TransformerLayerMap? layerMap = null;
        if (options.Loss == DistillationLossKind.Layerwise)
        {
            layerMap = FindLayerMap(teacherModel.Proto, studentProto)
                ?? throw DistillationErrors.NoTransformerLayers(TransformerLayerFinder.Find(Normalized(teacherModel.Proto)) is null ? options.TeacherPath : studentName);
        }

        // A Conv student from fresh weights trains with BatchNorms after its convolutions, folded back at export.
        var trainNorms = TrainTimeBatchNorm.Applies(options.TrainBatchNorm, reinitialize, options.QuantizationAware)
            ? TrainTimeBatchNorm.Insert(studentProto) : Array.Empty<string>();
        return new SeedModels
        {
            Teacher = teacherModel, TeacherFixedBatch = teacherFixedBatch, Student = studentProto, StudentFixedBatch = studentFixedBatch,
            StudentName = studentName, Reinitialize = reinitialize, Initialization = initialization, LayerMap = layerMap, TrainNorms = trainNorms,
            LearningRate = options.LearningRate ?? LearningRateDefaults.For(options, reinitialize, studentProto),
        };
    }

    /// <summary>The student graph as a TorchSharp module, keeping the tensors a loss or fake quantization reads.</summary>
    static OnnxGraphModule ImportStudent(DistillationOptions options, SeedModels models,
        out (IReadOnlyList<FeaturePair> Hidden, IReadOnlyList<FeaturePair> Attention)? layerPairs, out ActivationFakeQuantization? activationQuantization)
    {
        // Decomposed LayerNorm/GELU run as single kernels, except around tensors a feature/relation loss reads.
        layerPairs = models.LayerMap is null ? null : LayerPairs(models.LayerMap);
        var studentTensors = options.FeaturePairs.Select(p => p.Student).Concat(options.RelationTensors is { } rt ? new[] { rt.Student } : Array.Empty<string>())
            .Concat(layerPairs is { } lp ? lp.Hidden.Concat(lp.Attention).Select(p => p.Student) : []).ToHashSet(StringComparer.Ordinal);
        activationQuantization = options.QuantizationAware ? ActivationFakeQuantization.ForGraph(models.Student.Graph) : null;
        if (activationQuantization is not null) studentTensors.UnionWith(activationQuantization.Tensors);
        var student = OnnxGraphImporter.Import(models.Student, models.StudentName, fuseOperators: options.FuseOperators, preserveTensors: studentTensors);
        if (models.Reinitialize) PyTorchDefaultInitializer.Apply(student);
        return student;
    }

    /// <summary>The training rows, their labels and the teacher's answers on them, checked against the student; the length-cut plan.</summary>
    sealed class SeedData
    {
        public required TrainingInputs Inputs;
        public Tensor? Labels;
        public required TeacherAnswers Answers;
        /// <summary>Exactly one of these is set: soft targets, or a labels-only teacher's classes (hard-label KD).</summary>
        public Tensor? TeacherLogits, TeacherLabels;
        public SequenceTruncation? Truncation;
        public required string TruncationNote;
        public int[]? RowLengths;
        /// <summary>The student's (and teacher's) number of classes: labels must be 0..Classes-1.</summary>
        public long Classes;
    }

    /// <summary>MB0306 naming the file and first entry when a label is no class of the teacher (it could never be predicted).</summary>
    static void CheckLabelsAreClasses(long[] labels, long classes, string role, string file)
    {
        if (Array.FindIndex(labels, l => l < 0 || l >= classes) is var at and >= 0)
            throw DistillationErrors.LabelOutOfRange(role, file, at, labels[at], classes);
    }

    static SeedData PrepareData(DistillationOptions options, SeedModels models, OnnxGraphModule student, SharedData? shared, IProgress<DistillationProgress>? progress)
    {
        // --synthetic N without samples: data-free inputs inverted from the teacher's BatchNorm statistics.
        var (inputs, labels) = shared?.Inputs is { } sharedInputs ? (sharedInputs, shared.Labels)
            : options.TrainingData is null
            ? (TrainingInputs.Single(student.InputNames[0], DeepInversionSynthesizer.Generate(models.Teacher.Proto, options.TeacherPath, options.Synthetic!.Value, options.Seed, options.DeepInversion,
                // A progress sink that also takes text lines (the pipeline's) is told how the data-free synthesis goes.
                (progress as IProgress<string>) is { } lines ? lines.Report : null)), (Tensor?)null)
            : LoadData(options, models.Teacher.Proto);
        CheckStudentInputs(student, inputs, models.StudentName, options.TeacherPath);
        var answers = shared?.Answers is { } sharedAnswers ? sharedAnswers : AskTeacher(options, models, inputs);
        if (shared is not null) (shared.Inputs, shared.Labels, shared.Answers) = (inputs, labels, answers);
        // A teacher that gives only labels (an endpoint) trains the student on them: hard-label KD.
        Tensor? teacherLogits = answers.Logits, teacherLabels = answers.Labels;
        long classes = CheckStudentOutput(student, inputs, teacherLogits, models.StudentName, options.TrainingData ?? "");
        if (teacherLabels is not null && teacherLabels.max().item<long>() is var top && top >= classes)
            throw EndpointTeacherErrors.Malformed(options.TeacherEndpoint!.Url.Split('?')[0], $"it answered class {top}, but the student has {classes} outputs (classes 0..{classes - 1})");
        // Labels from a label column or class folders have no --train-labels file: the data file is named instead.
        if (labels is not null) CheckLabelsAreClasses(labels.data<long>().ToArray(), classes, "training", options.TrainingLabels ?? options.TrainingData!);
        var (truncation, truncationNote, rowLengths) = !options.TruncateSequences ? (null, "off", null)
            : options.Loss is DistillationLossKind.Feature or DistillationLossKind.Relation ? (null, "off: not with a feature or relation loss (the teacher's hidden tensors have the full length)", (int[]?)null)
            // The int8 step calibrates on full-length rows, PAD positions included; the observed ranges must see them too.
            : options.QuantizationAware ? (null, "off: quantization-aware ranges are observed at the full length the int8 step calibrates at", null)
            : PlanTruncation(student, inputs);
        return new SeedData
        {
            Inputs = inputs, Labels = labels, Answers = answers, TeacherLogits = teacherLogits, TeacherLabels = teacherLabels, Classes = classes,
            Truncation = truncation, TruncationNote = truncationNote, RowLengths = rowLengths,
        };
    }

    /// <summary>The teacher's answers on every training row, once: an ONNX file run with ONNX Runtime, or an endpoint called.</summary>
    static TeacherAnswers AskTeacher(DistillationOptions options, SeedModels models, TrainingInputs inputs)
    {
        using var teacher = options.TeacherEndpoint is { } endpoint
            ? (IDistillationTeacher)new EndpointTeacher(endpoint)
            : new OnnxFileTeacher(models.TeacherFixedBatch ? new OrtTensorBridge(models.Teacher.ToBytes()) : new OrtTensorBridge(options.TeacherPath));
        try
        {
            using (torch.no_grad()) return teacher.Answer(inputs);
        }
        catch (NotSupportedException e)
        {
            throw DistillationErrors.UnsupportedByImporter(options.TeacherPath, e);
        }
        catch (Exception e) when (e is not ModelBuildException)
        {
            throw DistillationErrors.DataDoesNotFitModel(options.TrainingData ?? "", options.TeacherPath, $"the teacher could not run on it ({FirstLine(e.Message)}).", e);
        }
    }

    /// <summary>Training and validation rows (a split seeded by <see cref="DistillationOptions.Seed"/>), with the validation targets.</summary>
    sealed class SeedSplit
    {
        public required int[] TrainRows;
        public int ValidationCount;
        public TrainingInputs? ValInputs;
        /// <summary>The teacher's classes (students are selected on agreement with them), its targets for the validation loss, the labels if any.</summary>
        public Tensor? ValTeacher, ValTeacherTargets, ValLabels;
        /// <summary>Requests an endpoint teacher was sent for validation rows from their own file.</summary>
        public TeacherCalls? ValidationCalls;
        /// <summary>Variants per training row (<c>--augment</c>, or its default), and how many of <see cref="TrainRows"/> they are.</summary>
        public int Augment, AugmentedRows;
    }

    static SeedSplit SplitRows(DistillationOptions options, SeedModels models, OnnxGraphModule student, SeedData data)
    {
        if (options.ValidationData is { } file) return ValidationFromFile(options, models, student, data, file);
        long rows = data.Inputs.Rows;
        var order = Enumerable.Range(0, (int)rows).ToArray();
        new Random(options.Seed).Shuffle(order);
        double valFraction = options.ValidationFraction > 0 ? options.ValidationFraction : options.EarlyStoppingPatience is null ? 0 : 0.1;
        int valCount = (int)Math.Round(rows * valFraction);
        if (options.Seeds > 1 && valCount == 0)
            throw DistillationErrors.InvalidOption("--seeds", $"--validation-split {valFraction} of {rows} training rows holds out no row to choose the best of {options.Seeds} students on");
        var trainIdx = valCount > 0 ? order.Skip(valCount).Order().ToArray() : Enumerable.Range(0, (int)rows).ToArray();
        var valIdx = order.Take(valCount).Order().ToArray();
        using var valIndex = torch.tensor(valIdx.Select(i => (long)i).ToArray());
        // Students are selected on agreement with the teacher (accuracy is reported beside it when there are labels).
        return new SeedSplit
        {
            TrainRows = trainIdx,
            ValidationCount = valCount,
            ValInputs = valCount > 0 ? data.Inputs.IndexSelect(valIndex) : null,
            ValTeacher = valCount > 0 ? data.Answers.PredictedClasses().index_select(0, valIndex) : null,
            ValTeacherTargets = valCount > 0 ? (data.Answers.Logits ?? data.Answers.Labels!).index_select(0, valIndex) : null,
            ValLabels = valCount > 0 ? data.Labels?.index_select(0, valIndex) : null,
        };
    }

    /// <summary>
    /// Validation rows from their own file (<c>--validation-data</c>): every training row is trained on; the teacher
    /// answers the validation rows too (an endpoint: more requests, cached like the others).
    /// </summary>
    static SeedSplit ValidationFromFile(DistillationOptions options, SeedModels models, OnnxGraphModule student, SeedData data, string file)
    {
        var read = (options.DataOptions ?? new DataReadOptions()).ForModel(options.TeacherPath);
        var raw = DataSource.Read(file, read);
        raw.Inputs.EnsureFinite();
        var inputs = TrainingInputs.From(raw.Inputs, models.Teacher.Proto, "validation data").WithTexts(raw.Texts);
        CheckStudentInputs(student, inputs, models.StudentName, options.TeacherPath);
        // A validation label column (or class folders) outside the classes lowered the validation accuracy without a word.
        if (raw.Labels is not null) CheckLabelsAreClasses(raw.Labels, data.Classes, "validation", file);
        var answers = AskTeacher(options, models, inputs);
        if ((answers.Labels is null) != (data.TeacherLabels is null))
            throw EndpointTeacherErrors.Malformed(EndpointTeacher.Describe(options.TeacherEndpoint!.Url), $"the training rows were answered with {(data.TeacherLabels is null ? "scores" : "labels")} and the validation rows of {Path.GetFileName(file)} with {(answers.Labels is null ? "scores" : "labels")}");
        return new SeedSplit
        {
            TrainRows = Enumerable.Range(0, (int)data.Inputs.Rows).ToArray(),
            ValidationCount = (int)inputs.Rows,
            ValInputs = inputs,
            ValTeacher = answers.PredictedClasses(),
            ValTeacherTargets = answers.Logits ?? answers.Labels!,
            ValLabels = raw.Labels is null ? null : DistillationData.ToLabelTensor(raw.Labels),
            ValidationCalls = answers.Calls,
        };
    }

    /// <summary>
    /// <c>--augment N</c>: N teacher-labelled variants of each training row join the training rows: token rows varied
    /// TinyBERT-style (<see cref="TokenAugmentation"/>), float feature rows mixed with another row
    /// (<see cref="MixupAugmentation"/>); validation rows are neither varied nor trained on.
    /// </summary>
    static void Augment(DistillationOptions options, SeedModels models, OnnxGraphModule student, SeedData data, SeedSplit split)
    {
        string source = options.TrainingData ?? "synthetic data";
        TrainingInputs variants;
        if (MixupAugmentation.Applies(data.Inputs))
            variants = MixupAugmentation.Generate(data.Inputs, split.TrainRows, split.Augment, options.Seed);
        else
        {
            if (data.Inputs.ByName().Values.Any(t => t.is_floating_point()))
                throw DistillationErrors.AugmentNeedsTokens(source, "it holds float features beside token ids, which neither mixing nor word replacement can vary together");
            var (idsInput, table) = TokenAugmentation.FindEmbedding(models.Teacher.Proto, data.Inputs)
                ?? throw DistillationErrors.AugmentNeedsTokens(source, $"no word-embedding table of {options.TeacherPath} is gathered from its token-id input ({string.Join(", ", data.Inputs.Names)})");
            variants = TokenAugmentation.Generate(data.Inputs, idsInput, table, split.TrainRows, split.Augment, options.Seed, options.DataOptions?.PadId ?? 0);
        }
        var answers = AskTeacher(options, models, variants);
        long rows = data.Inputs.Rows;
        data.Inputs = new TrainingInputs(data.Inputs.Names.Select(n => (n, torch.cat([data.Inputs.ByName()[n], variants.ByName()[n]], 0))));
        data.TeacherLogits = torch.cat([data.TeacherLogits!, answers.Logits!], 0);
        // The variants' labels are the teacher's: a replaced word may change the intent.
        if (data.Labels is not null) data.Labels = torch.cat([data.Labels, answers.PredictedClasses()], 0);
        if (data.RowLengths is not null)
            data.RowLengths = [.. data.RowLengths, .. data.Truncation is { } plan ? plan.RowLengths(variants.First) : DynamicSequenceTruncation.TryRowLengths(student, variants, out _)!];
        split.TrainRows = [.. split.TrainRows, .. Enumerable.Range((int)rows, (int)variants.Rows)];
        split.AugmentedRows = (int)variants.Rows;
    }

    /// <summary>The response loss and, for the feature/relation/layer-wise losses, the teacher as a module and the extra term.</summary>
    sealed class SeedLosses : IDisposable
    {
        public required ResponseDistillationLoss Response;
        public OnnxGraphModule? TeacherTorch;
        public FeatureDistillationLoss? Feature;
        public RelationDistillationLoss? Relation;
        public LayerwiseDistillationLoss? Layerwise;
        public SequenceTruncation? TeacherTruncation;
        public List<string> TeacherFetch = new();
        public required List<string> StudentFetch;

        public void Dispose()
        {
            TeacherTorch?.Dispose();
            Feature?.Dispose();
            Layerwise?.Dispose();
        }
    }

    static SeedLosses PrepareLosses(DistillationOptions options, SeedModels models, OnnxGraphModule student, SeedData data,
        (IReadOnlyList<FeaturePair> Hidden, IReadOnlyList<FeaturePair> Attention)? layerPairs)
    {
        var losses = new SeedLosses
        {
            Response = new ResponseDistillationLoss(options.Temperature, data.Labels is null ? 1.0 : options.Alpha, options.LabelSmoothing),
            StudentFetch = new List<string> { student.OutputNames[0] },
        };
        if (layerPairs is not null) PrepareLayerwise(options, models, student, data, layerPairs.Value, losses);
        else if (options.Loss != DistillationLossKind.Response) PrepareFeatureOrRelation(options, models, student, data, losses);
        return losses;
    }

    static void PrepareLayerwise(DistillationOptions options, SeedModels models, OnnxGraphModule student, SeedData data,
        (IReadOnlyList<FeaturePair> Hidden, IReadOnlyList<FeaturePair> Attention) layerPairs, SeedLosses losses)
    {
        long rows = data.Inputs.Rows;
        var teacherTorch = losses.TeacherTorch = OnnxGraphImporter.Import(models.Teacher.Proto, options.TeacherPath);
        teacherTorch.eval();
        var layerwiseLoss = losses.Layerwise = new LayerwiseDistillationLoss(layerPairs.Hidden, layerPairs.Attention);
        // Cut batches need the teacher's hidden states at the cut length too: the teacher runs on the cut inputs
        // (several inputs) or with its own plan (one fixed-length input), and only where that is exact.
        if (data.RowLengths is not null)
        {
            string? why = null;
            if (data.Truncation is not null)
            {
                using var planScope = torch.NewDisposeScope();
                losses.TeacherTruncation = SequenceTruncation.TryCreate(teacherTorch, data.Inputs.First.slice(0, 0, Math.Min(2, rows), 1), out var reason);
                if (losses.TeacherTruncation is null) why = reason;
                else if (!(losses.TeacherTruncation.MaxDeviation(teacherTorch, data.Inputs.First) <= TruncationTolerance)) why = "its truncated outputs differ from full-length ones";
            }
            else if (!(DynamicSequenceTruncation.MaxDeviation(teacherTorch, data.Inputs, data.RowLengths) <= TruncationTolerance)) why = "its truncated outputs differ from full-length ones";
            if (why is not null)
            {
                (data.Truncation, losses.TeacherTruncation, data.RowLengths) = (null, null, null);
                data.TruncationNote = $"off: the layer-wise loss needs the teacher cut too, and the teacher cannot be ({why})";
            }
        }
        losses.TeacherFetch.AddRange(layerwiseLoss.TeacherTensors);
        losses.StudentFetch.AddRange(layerwiseLoss.StudentTensors);
        using var probeScope = torch.NewDisposeScope();
        var probe = data.Inputs.Slice(0, Math.Min(2, rows));
        using var noGrad = torch.no_grad();
        layerwiseLoss.Prepare(teacherTorch.Run(probe.For(teacherTorch), losses.TeacherFetch), student.Run(probe.For(student), losses.StudentFetch));
    }

    static void PrepareFeatureOrRelation(DistillationOptions options, SeedModels models, OnnxGraphModule student, SeedData data, SeedLosses losses)
    {
        var teacherTorch = losses.TeacherTorch = OnnxGraphImporter.Import(models.Teacher.Proto, options.TeacherPath);
        teacherTorch.eval();
        var pairs = options.Loss == DistillationLossKind.Feature ? options.FeaturePairs
            : new[] { options.RelationTensors ?? throw DistillationErrors.InvalidOption("--loss relation", "name the tensor pair (teacher:student) to relate") };
        if (pairs.Count == 0) throw DistillationErrors.InvalidOption("--feature-pairs", "the feature loss needs at least one teacher:student pair");
        foreach (var p in pairs)
        {
            if (!teacherTorch.HasTensor(p.Teacher)) throw DistillationErrors.UnknownTensor(options.TeacherPath, p.Teacher, "teacher");
            if (!student.HasTensor(p.Student)) throw DistillationErrors.UnknownTensor(models.StudentName, p.Student, "student");
            losses.TeacherFetch.Add(p.Teacher);
            losses.StudentFetch.Add(p.Student);
        }
        if (options.Loss == DistillationLossKind.Feature)
        {
            var featureLoss = losses.Feature = new FeatureDistillationLoss(pairs);
            using var probeScope = torch.NewDisposeScope();
            var probe = data.Inputs.Slice(0, Math.Min(2, data.Inputs.Rows));
            using var noGrad = torch.no_grad();
            featureLoss.Prepare(teacherTorch.Run(probe.For(teacherTorch), losses.TeacherFetch), student.Run(probe.For(student), losses.StudentFetch));
        }
        else losses.Relation = new RelationDistillationLoss(options.RelationKind);
    }

    /// <summary>Training-time behaviour of the student: dropout, and for quantization-aware training fake-quantized weights and activations.</summary>
    static void ConfigureStudent(DistillationOptions options, OnnxGraphModule student, ActivationFakeQuantization? activationQuantization)
    {
        student.TrainingDropout = options.Dropout;
        if (options.QuantizationAware)
        {
            student.ParameterTransform = (name, w) => FakeQuantization.Apply(w, WeightChannelAxis(student, name));
            student.ValueTransform = activationQuantization!.Apply;
            student.TransformedValues = activationQuantization.Tensors;
        }
    }

    /// <summary>What training did: epochs run, the epoch kept (with validation rows), the last epoch's mean loss, the time.</summary>
    sealed record TrainingRun(int EpochsRun, int SelectedEpoch, double LastLoss, double Seconds, IReadOnlyList<string> Revived);

    /// <summary>AdamW under the warm-up + cosine schedule, epoch by epoch; with validation rows the best epoch is kept and patience may stop early.</summary>
    static TrainingRun Train(DistillationOptions options, double learningRate, int trainSeed, OnnxGraphModule student, SeedData data, SeedSplit split, SeedLosses losses,
        IProgress<DistillationProgress>? progress, CancellationToken cancellationToken)
    {
        var parameters = student.parameters().ToList();
        if (losses.Feature is not null) parameters.AddRange(losses.Feature.parameters());
        if (losses.Layerwise is not null) parameters.AddRange(losses.Layerwise.parameters());
        using var optimizer = new LeanAdamW(parameters, learningRate, weightDecay: options.WeightDecay);
        // The teacher's soft targets do not change: their log-probabilities at T are computed once, not per batch.
        using var teacherTargets = data.TeacherLabels is null ? losses.Response.TeacherLogProbabilities(data.TeacherLogits!) : null;

        int stepsPerEpoch = (split.TrainRows.Length + options.BatchSize - 1) / options.BatchSize;
        var schedule = new StepSchedule((long)stepsPerEpoch * options.Epochs, learningRate, options.WarmupFraction);
        var shuffler = new Random(trainSeed + 1);
        var stopwatch = Stopwatch.StartNew();
        double bestScore = double.NegativeInfinity, bestLoss = double.PositiveInfinity;
        int bestEpoch = 0, epochsRun = 0, sinceBest = 0;
        double lastLoss = double.NaN;
        Dictionary<string, Tensor>? bestState = null;

        // Class scores a Relu before the output keeps at 0 for every row get no gradient; checked before every epoch on
        // a seeded random sample of the training rows (the first rows of data read class by class would be one class).
        var revived = new List<string>();
        TrainingInputs? reviveSample = null;
        Tensor? reviveClasses = null;
        if (DeadOutputRepair.Applies(student))
        {
            var rows = (int[])split.TrainRows.Clone();
            new Random(trainSeed + 2).Shuffle(rows);
            using var reviveRows = torch.tensor(rows.Take(DeadOutputRepair.SampleRows).Select(r => (long)r).ToArray());
            reviveSample = data.Inputs.IndexSelect(reviveRows);
            // The teacher's classes from the targets training uses (data.Answers holds the rows before --augment's
            // variants); the scope frees the arg-max, never the labels tensor itself.
            using (torch.NewDisposeScope())
                reviveClasses = new TeacherAnswers(data.TeacherLogits, data.TeacherLabels).PredictedClasses().index_select(0, reviveRows).MoveToOuterDisposeScope();
        }
        using var reviveClassesScope = reviveClasses;

        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (reviveSample is not null && DeadOutputRepair.Apply(student, reviveSample, reviveClasses!) is { } note) revived.Add($"before epoch {epoch}: {note}");
            student.train();
            losses.Feature?.train();
            losses.Layerwise?.train();
            lastLoss = TrainEpoch(options, epoch, student, data, teacherTargets ?? data.TeacherLabels!, split, losses, parameters, optimizer, schedule, shuffler);
            epochsRun = epoch;
            double? score = split.ValInputs is not null ? Score(student, split.ValInputs, split.ValTeacher!) : null;
            var elapsed = stopwatch.Elapsed;
            progress?.Report(new DistillationProgress(epoch, options.Epochs, lastLoss, score, schedule.LearningRate, elapsed,
                TimeSpan.FromTicks(elapsed.Ticks / epoch * (options.Epochs - epoch))) { Seed = options.Seeds > 1 ? trainSeed : null });

            // With validation rows the best epoch (agreement, then validation loss) is kept; patience stops training early.
            if (score is { } s)
            {
                double valLoss = ValidationLoss(student, losses.Response, split.ValInputs!, split.ValTeacherTargets!, data.TeacherLabels is not null);
                if (IsBetter(s, valLoss, bestScore, bestLoss))
                {
                    bestScore = s; bestLoss = valLoss; bestEpoch = epoch; sinceBest = 0;
                    DisposeState(bestState);
                    bestState = Snapshot(student);
                }
                else if (options.EarlyStoppingPatience is { } patience && ++sinceBest >= patience) break;
            }
        }
        double trainSeconds = stopwatch.Elapsed.TotalSeconds;
        if (bestState is not null) Restore(student, bestState);
        DisposeState(bestState);
        return new TrainingRun(epochsRun, bestState is not null ? bestEpoch : epochsRun, lastLoss, trainSeconds, revived);
    }

    /// <summary>The optimizer step count across epochs and the learning rate of the latest step.</summary>
    sealed class StepSchedule(long totalSteps, double peakRate, double warmupFraction)
    {
        readonly long _warmupSteps = (long)Math.Round(totalSteps * warmupFraction);
        readonly double _peakRate = peakRate;
        public long Step;
        public double LearningRate = peakRate;

        /// <summary>Sets and returns the scheduled rate of the next step.</summary>
        public double Next() => LearningRate = ScheduledLearningRate(_peakRate, Step, _warmupSteps, totalSteps);
    }

    /// <summary>
    /// One epoch over shuffled (and, with row lengths, length-bucketed) batches. Returns the mean training loss per row.
    /// <paramref name="targets"/>: the teacher's log-probabilities at T (soft targets) or its classes (hard-label KD).
    /// </summary>
    /// <remarks>
    /// The rows of consecutive batches are gathered with one index_select per tensor (a chunk of at most
    /// <see cref="GatherChunkBytes"/>), each batch then being a slice of that copy: a small student's step costs about
    /// as much as the calls that make it, and the batches hold the same values either way.
    /// </remarks>
    static double TrainEpoch(DistillationOptions options, int epoch, OnnxGraphModule student, SeedData data, Tensor targets, SeedSplit split, SeedLosses losses,
        List<Parameter> parameters, LeanAdamW optimizer, StepSchedule schedule, Random shuffler)
    {
        var perm = (int[])split.TrainRows.Clone();
        shuffler.Shuffle(perm);
        var batches = EpochBatches(perm, options.BatchSize, data.RowLengths, shuffler);
        long chunkRows = Math.Max(1, GatherChunkBytes / Math.Max(1, RowBytes(data.Inputs, targets, data.Labels)));
        double lossSum = 0;
        int seen = 0;
        for (int b = 0; b < batches.Count;)
        {
            int chunkEnd = b;
            long rowsInChunk = 0;
            while (chunkEnd < batches.Count && (chunkEnd == b || rowsInChunk + batches[chunkEnd].Length <= chunkRows)) rowsInChunk += batches[chunkEnd++].Length;
            using var chunkScope = torch.NewDisposeScope();
            var chunkIndex = new long[rowsInChunk];
            for (int c = b, at = 0; c < chunkEnd; c++)
                foreach (var row in batches[c]) chunkIndex[at++] = row;
            var rowsTensor = torch.tensor(chunkIndex);
            var chunkInputs = data.Inputs.IndexSelect(rowsTensor);
            var chunkTargets = targets.index_select(0, rowsTensor);
            var chunkLabels = data.Labels?.index_select(0, rowsTensor);
            for (long offset = 0; b < chunkEnd; b++)
            {
                using var scope = torch.NewDisposeScope();
                var rowsOfBatch = batches[b];
                long end = offset + rowsOfBatch.Length;
                var x = chunkInputs.Slice(offset, end);
                if (data.RowLengths is { } lengths) x = x.Narrow(rowsOfBatch.Max(i => lengths[i]));
                var t = chunkTargets.slice(0, offset, end, 1);
                var y = chunkLabels?.slice(0, offset, end, 1);
                offset = end;

                double lr = schedule.Next();
                optimizer.LearningRate = lr;

                var loss = BatchLoss(options, student, data, losses, x, t, y);
                double value = loss.item<float>();
                if (!double.IsFinite(value)) throw DistillationErrors.NonFiniteLoss(epoch, b + 1, lr);
                optimizer.ZeroGrad();
                loss.backward();
                if (options.GradientClipNorm is { } clip) torch.nn.utils.clip_grad_norm_(parameters, clip);
                optimizer.Step();
                lossSum += value * x.Rows;
                seen += (int)x.Rows;
                schedule.Step++;
            }
        }
        return lossSum / Math.Max(1, seen);
    }

    /// <summary>Largest copy of batch rows gathered at once (see <see cref="TrainEpoch"/>): the whole epoch for tabular and text data, a part of it for large images.</summary>
    const long GatherChunkBytes = 64L << 20;

    static long RowBytes(TrainingInputs inputs, Tensor targets, Tensor? labels) =>
        inputs.ByName().Values.Append(targets).Concat(labels is null ? [] : [labels]).Sum(t => t.ElementSize * t.numel() / Math.Max(1, t.shape[0]));

    /// <summary>The response loss on one batch (the teacher's log-probabilities at T, or hard labels from a labels-only teacher), plus the weighted feature/relation/layer-wise term.</summary>
    static Tensor BatchLoss(DistillationOptions options, OnnxGraphModule student, SeedData data, SeedLosses losses, TrainingInputs x, Tensor t, Tensor? y)
    {
        var outs = student.Run(x.For(student), losses.StudentFetch, data.Truncation);
        var loss = data.TeacherLabels is null ? losses.Response.ComputeFromTeacherLogProbabilities(outs[student.OutputNames[0]], t, y) : losses.Response.ComputeHard(outs[student.OutputNames[0]], t, y);
        if (losses.TeacherTorch is not { } teacherTorch) return loss;
        Dictionary<string, Tensor> tf;
        using (torch.no_grad()) tf = teacherTorch.Run(x.For(teacherTorch), losses.TeacherFetch, losses.TeacherTruncation);
        var aux = losses.Layerwise is not null ? losses.Layerwise.Compute(tf, outs)
            : losses.Feature is not null
            ? losses.Feature.Compute(tf, outs)
            : losses.Relation!.Compute(tf[losses.TeacherFetch[0]], outs[losses.StudentFetch[1]]);
        return loss.add(aux.mul(Kept.Of(options.AuxiliaryWeight)), Kept.One);
    }

    /// <summary>Final validation figures, the student written as ONNX (BatchNorms folded, batch-1 interface restored), and the result.</summary>
    static DistillationResult Finish(DistillationOptions options, int trainSeed, string outputPath, SeedModels models, OnnxGraphModule student,
        SeedData data, SeedSplit split, SeedLosses losses, TrainingRun run, ActivationFakeQuantization? activationQuantization)
    {
        student.eval();
        // Export the float weights; the quantization engine does the int8 step (and calibrates its own ranges).
        student.ParameterTransform = null;
        student.ValueTransform = null;
        var valInputs = split.ValInputs;
        double? finalScore = valInputs is not null ? Score(student, valInputs, split.ValTeacher!) : null;
        double? finalAccuracy = split.ValLabels is not null ? Score(student, valInputs!, split.ValLabels) : null;
        double? finalLoss = valInputs is not null ? ValidationLoss(student, losses.Response, valInputs, split.ValTeacherTargets!, data.TeacherLabels is not null) : null;
        var exported = OnnxStudentExporter.ToOnnx(student);
        TrainTimeBatchNorm.Fold(exported.Proto, models.TrainNorms);
        if (models.StudentFixedBatch) DynamicBatch.RestoreBatchOne(exported.Proto);
        exported.Save(outputPath);
        return new DistillationResult
        {
            OutputPath = outputPath,
            EpochsRun = run.EpochsRun,
            SelectedEpoch = run.SelectedEpoch,
            FinalTrainLoss = run.LastLoss,
            Dropout = student.TrainingDropout,
            ValidationScore = finalScore,
            ValidationAgreement = finalScore,
            ValidationAccuracy = finalAccuracy,
            ValidationLoss = finalLoss,
            ValidationSamples = split.ValidationCount,
            SelectedSeed = trainSeed,
            SeedRuns = [new SeedRun(trainSeed, run.EpochsRun, run.SelectedEpoch, finalScore, finalAccuracy, finalLoss, run.Seconds)],
            StudentParameters = student.OnnxParameters.Values.Sum(p => p.numel()),
            TrainingSamples = split.TrainRows.Length,
            TrainingSeconds = run.Seconds,
            NeedsInt8Step = options.QuantizationAware,
            SequenceTruncation = data.TruncationNote,
            ActivationRanges = activationQuantization?.Ranges.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal),
            FusedOperators = student.FusedOperators,
            TrainTimeBatchNorms = models.TrainNorms.Count,
            RevivedOutputs = run.Revived,
            TeacherCalls = TeacherCalls.Sum(data.Answers.Calls, split.ValidationCalls),
            Augment = split.Augment,
            LearningRate = models.LearningRate,
            AugmentedSamples = split.AugmentedRows,
            Initialization = models.Initialization,
            LayerMap = models.LayerMap?.Describe(),
        };
    }

    /// <summary>A line saying what a derived student kept of the teacher.</summary>
    static string DescribeKept(StudentDerivation d)
    {
        var parts = d.Depth.Concat(d.Width.Count > 0 ? [$"{d.Width.Count} coupled group(s) keep the units the L2 importance ranks highest"] : []).ToList();
        return parts.Count == 0 ? "all of them" : string.Join("; ", parts);
    }

    /// <summary>The layer map on normalized copies (Constant nodes as initializers, as the finder expects); activation names are unchanged.</summary>
    static TransformerLayerMap? FindLayerMap(ModelProto teacher, ModelProto student) => TransformerLayerMap.Find(Normalized(teacher), Normalized(student));

    static ModelProto Normalized(ModelProto model)
    {
        var copy = model.Clone();
        GraphNormalizer.Normalize(copy);
        return copy;
    }

    /// <summary>Teacher:student pairs of hidden states (embeddings and mapped layer outputs) and attention distributions.</summary>
    static (IReadOnlyList<FeaturePair> Hidden, IReadOnlyList<FeaturePair> Attention) LayerPairs(TransformerLayerMap map)
    {
        var hidden = new List<FeaturePair> { new(map.TeacherEmbedding, map.StudentEmbedding) };
        hidden.AddRange(map.Layers.Select(l => new FeaturePair(l.TeacherHidden, l.StudentHidden)));
        var attention = map.HasAttention ? map.Layers.Select(l => new FeaturePair(l.TeacherAttention!, l.StudentAttention!)).ToList() : new List<FeaturePair>();
        return (hidden, attention);
    }

    /// <summary>
    /// Length-truncated batches for a fixed-length token student, used only when the truncated forward pass gives the
    /// full-length outputs on the training data (PAD masked, pooling over non-PAD positions).
    /// </summary>
    static (SequenceTruncation? Plan, string Note, int[]? RowLengths) PlanTruncation(OnnxGraphModule student, TrainingInputs data)
    {
        if (!data.IsSingle)
        {
            // Several inputs with a dynamic sequence axis (BERT-style): the inputs are cut, the graph is not rewritten.
            var lengths = DynamicSequenceTruncation.TryRowLengths(student, data, out var why);
            if (lengths is null) return (null, "off: " + why, null);
            double d = DynamicSequenceTruncation.MaxDeviation(student, data, lengths);
            if (!(d <= TruncationTolerance))
                return (null, $"off: truncated outputs differ from full-length ones by {d:G3} (PAD positions are not fully masked)", null);
            return (null, $"on: batches bucketed by {DynamicSequenceTruncation.MaskInput} length and every input cut to the batch's longest sequence, at most {data.First.shape[1]} (largest output difference {d:G2})", lengths);
        }
        var inputs = data.First;
        using var scope = torch.NewDisposeScope();
        var plan = SequenceTruncation.TryCreate(student, inputs.slice(0, 0, Math.Min(2, inputs.shape[0]), 1), out var reason);
        if (plan is null) return (null, "off: " + reason, null);
        double deviation = plan.MaxDeviation(student, inputs);
        if (!(deviation <= TruncationTolerance))
            return (null, $"off: truncated outputs differ from full-length ones by {deviation:G3} (PAD positions are not fully masked)", null);
        return (plan, $"on: batches bucketed by length and cut to their longest sequence of {plan.FullLength} (largest output difference {deviation:G2})", plan.RowLengths(inputs));
    }

    /// <summary>Largest difference (relative to 1 + |output|) between truncated and full-length outputs that still counts as exact: float rounding only.</summary>
    public const double TruncationTolerance = 1e-5;

    /// <summary>
    /// One epoch's batches from shuffled rows. With row lengths, as in the PyTorch reference's loop: rows are sorted by
    /// length inside chunks of 50 batches (so a batch holds similar lengths and is cut short), then the batches are shuffled.
    /// </summary>
    public static List<int[]> EpochBatches(int[] shuffledRows, int batchSize, int[]? rowLengths, Random shuffler)
    {
        var batches = new List<int[]>((shuffledRows.Length + batchSize - 1) / batchSize);
        if (rowLengths is null)
        {
            for (int start = 0; start < shuffledRows.Length; start += batchSize)
                batches.Add(shuffledRows.AsSpan(start, Math.Min(batchSize, shuffledRows.Length - start)).ToArray());
            return batches;
        }
        int chunk = batchSize * 50;
        for (int c = 0; c < shuffledRows.Length; c += chunk)
        {
            var sorted = shuffledRows.Skip(c).Take(chunk).OrderBy(i => rowLengths[i]).ToArray();
            for (int start = 0; start < sorted.Length; start += batchSize)
                batches.Add(sorted.AsSpan(start, Math.Min(batchSize, sorted.Length - start)).ToArray());
        }
        var order = batches.ToArray();
        shuffler.Shuffle(order);
        return order.ToList();
    }

    /// <summary>Linear warm-up to the base rate, then cosine decay to 0 over the remaining steps.</summary>
    public static double ScheduledLearningRate(double baseRate, long step, long warmupSteps, long totalSteps)
    {
        if (warmupSteps > 0 && step < warmupSteps) return baseRate * (step + 1) / warmupSteps;
        double progress = (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps);
        return baseRate * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(progress, 0, 1)));
    }

    /// <summary>The distillation loss against the teacher alone (no labels) on the validation rows, averaged per row.</summary>
    static double ValidationLoss(OnnxGraphModule module, ResponseDistillationLoss loss, TrainingInputs inputs, Tensor teacherTargets, bool hardLabels)
    {
        bool wasTraining = module.training;
        module.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        double sum = 0;
        long n = inputs.Rows;
        for (long start = 0; start < n; start += 512)
        {
            long end = Math.Min(n, start + 512);
            var output = module.Run(inputs.Slice(start, end).For(module), new[] { module.OutputNames[0] })[module.OutputNames[0]];
            var targets = teacherTargets.slice(0, start, end, 1);
            sum += (hardLabels ? loss.ComputeHard(output, targets, null) : loss.Compute(output, targets, null)).item<float>() * (end - start);
        }
        if (wasTraining) module.train();
        return sum / n;
    }

    /// <summary>Top-1 accuracy of the module's first output against class indices.</summary>
    public static double Score(OnnxGraphModule module, Tensor inputs, Tensor targets) => Score(module, TrainingInputs.Single(module.InputNames[0], inputs), targets);

    /// <summary>Top-1 accuracy of the module's first output against class indices, on all its inputs.</summary>
    public static double Score(OnnxGraphModule module, TrainingInputs inputs, Tensor targets)
    {
        bool wasTraining = module.training;
        module.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        long correct = 0, n = inputs.Rows;
        for (long start = 0; start < n; start += 512)
        {
            var x = inputs.Slice(start, Math.Min(n, start + 512));
            var pred = module.Run(x.For(module), new[] { module.OutputNames[0] })[module.OutputNames[0]].reshape(x.Rows, -1).argmax(1);
            correct += pred.eq(targets.slice(0, start, Math.Min(n, start + 512), 1)).sum().item<long>();
        }
        if (wasTraining) module.train();
        return (double)correct / n;
    }

    static void Validate(DistillationOptions o)
    {
        if (o.Epochs < 1) throw DistillationErrors.InvalidOption("--epochs", $"{o.Epochs} must be at least 1");
        if (o.BatchSize < 1) throw DistillationErrors.InvalidOption("--batch-size", $"{o.BatchSize} must be at least 1");
        if (o.LearningRate is { } lr && !(lr > 0)) throw DistillationErrors.InvalidOption("--learning-rate", $"{lr} must be positive");
        if (!(o.Temperature > 0)) throw DistillationErrors.InvalidOption("--temperature", $"{o.Temperature} must be positive");
        if (o.Alpha is < 0 or > 1 || double.IsNaN(o.Alpha)) throw DistillationErrors.InvalidOption("--alpha", $"{o.Alpha} must be between 0 and 1");
        if (o.Dropout is < 0 or >= 1 || double.IsNaN(o.Dropout)) throw DistillationErrors.InvalidOption("--dropout", $"{o.Dropout} must be in [0, 1)");
        if (!(o.WeightDecay >= 0) || double.IsInfinity(o.WeightDecay)) throw DistillationErrors.InvalidOption("--weight-decay", $"{o.WeightDecay} must be 0 or more");
        if (o.LabelSmoothing is < 0 or >= 1 || double.IsNaN(o.LabelSmoothing)) throw DistillationErrors.InvalidOption("--label-smoothing", $"{o.LabelSmoothing} must be in [0, 1)");
        if (o.ValidationFraction is < 0 or >= 1 || double.IsNaN(o.ValidationFraction)) throw DistillationErrors.InvalidOption("--validation-split", $"{o.ValidationFraction} must be in [0, 1)");
        if (o.Seeds < 1) throw DistillationErrors.InvalidOption("--seeds", $"{o.Seeds} must be at least 1");
        if (o.ValidationData is not null && o.ValidationFraction > 0) throw DistillationErrors.ValidationTwice(o.ValidationFraction, o.ValidationData);
        if (o.Seeds > 1 && o.ValidationFraction <= 0 && o.ValidationData is null)
            throw DistillationErrors.InvalidOption("--seeds", $"choosing the best of {o.Seeds} students needs validation rows; set --validation-split above 0 or give --validation-data");
        if (o.Augment < 0) throw DistillationErrors.InvalidOption("--augment", $"{o.Augment} must be 0 or more");
        if (o.EarlyStoppingPatience is < 1) throw DistillationErrors.InvalidOption("--patience", $"{o.EarlyStoppingPatience} must be at least 1");
        if (o.StudentPath is null && o.StudentWidth is null && o.StudentDepth is null)
            throw DistillationErrors.InvalidOption("--student", "give a student model (--student) or shrink factors (--student-width/--student-depth)");
        if (o.TrainingData is null && o.Synthetic is null) throw DistillationErrors.NoTrainingData();
        if (o.Synthetic is < 1) throw DistillationErrors.InvalidOption("--synthetic", $"{o.Synthetic} must be at least 1");
        if (o.TeacherEndpoint is not null)
        {
            // Only the teacher's answers can be had from an endpoint: no graph to derive a student from, no hidden tensors, no BatchNorm statistics.
            if (o.StudentPath is null) throw EndpointTeacherErrors.InvalidSetting("a student cannot be derived from a teacher that can only be called; pass the student model (--student, or the model argument)");
            if (o.Loss != DistillationLossKind.Response) throw EndpointTeacherErrors.InvalidSetting($"--loss {o.Loss.ToString().ToLowerInvariant()} reads the teacher's hidden tensors, which an endpoint does not give; use --loss response");
            if (o.TrainingData is null) throw EndpointTeacherErrors.InvalidSetting("data-free synthesis (--synthetic without --train-data) inverts the teacher's BatchNorm statistics, which an endpoint does not give; pass --train-data");
            if (o.Augment > 0) throw EndpointTeacherErrors.InvalidSetting("--augment's token variants need the teacher's word-embedding table, which an endpoint does not give, and its variants would each be another call; drop --augment");
        }
    }

    static (TrainingInputs Inputs, Tensor? Labels) LoadData(DistillationOptions o, global::Onnx.ModelProto teacher)
    {
        // Synthetic training is output mimicry: labels, if any, are not used.
        var read = (o.DataOptions ?? new DataReadOptions()).ForModel(o.TeacherPath);
        var data = DataSource.Read(o.TrainingData!, read, o.Synthetic is null ? o.TrainingLabels : null);
        // A NaN in the rows is the data's fault, named as such (MB0503), not a loss that "became NaN" at some step (MB0305).
        data.Inputs.EnsureFinite();
        if (o.Synthetic is int n)
        {
            var x = data.Inputs.Single("training data");
            string name = teacher.Graph.Input.First(i => teacher.Graph.Initializer.All(w => w.Name != i.Name)).Name;
            // Output mimicry: only the generated inputs are trained on, labelled by the teacher (no hard labels).
            long[] shape = [n, .. x.Shape.Skip(1)];
            if (!x.IsFloat) return (TrainingInputs.Single(name, torch.tensor(TokenSequenceSynthesizer.Generate(x.Int64s!, x.Count, x.SampleSize, n, o.Seed, read.PadId), shape)), null);
            if (x.Shape.Length == 4) return (TrainingInputs.Single(name, torch.tensor(ImageSynthesizer.Generate(x.Floats!, x.Count, x.SampleSize, n, o.Seed), shape)), null);
            return (TrainingInputs.Single(name, torch.tensor(TabularSynthesizer.Generate(x.Floats!, x.Count, x.SampleSize, n, o.Seed), shape)), null);
        }
        // Every teacher input, by name (a lone array feeds a single-input teacher): MB0508/MB0582 when they do not bind.
        var inputs = TrainingInputs.From(data.Inputs, teacher, "training data").WithTexts(data.Texts);
        if (data.Labels is null) return (inputs, null);
        if (data.Labels.Length != inputs.Rows) throw DistillationErrors.LabelCountMismatch(data.LabelSource ?? o.TrainingData!, data.Labels.Length, o.TrainingData!, inputs.Rows);
        return (inputs, DistillationData.ToLabelTensor(data.Labels));
    }

    /// <summary>MB0340 when the student reads an input the teacher (and so the data) does not have.</summary>
    static void CheckStudentInputs(OnnxGraphModule student, TrainingInputs inputs, string studentName, string teacher)
    {
        if (inputs.IsSingle && student.InputNames.Count == 1) return;
        var missing = student.InputNames.Where(n => !inputs.Names.Contains(n)).ToList();
        if (missing.Count > 0) throw DistillationErrors.StudentInputNotInTeacher(studentName, missing, inputs.Names, teacher);
    }

    /// <summary>Runs the student on two rows: it must run on the data and give the teacher's output shape. Returns its number of classes.</summary>
    static long CheckStudentOutput(OnnxGraphModule student, TrainingInputs inputs, Tensor? teacherLogits, string studentName, string data)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        long n = Math.Min(2, inputs.Rows);
        Tensor output;
        try
        {
            student.eval();
            output = student.Run(inputs.Slice(0, n).For(student), new[] { student.OutputNames[0] })[student.OutputNames[0]];
        }
        catch (NotSupportedException e)
        {
            throw DistillationErrors.UnsupportedByImporter(studentName, e);
        }
        catch (Exception e) when (e is not ModelBuildException)
        {
            throw DistillationErrors.DataDoesNotFitModel(data, studentName, $"the student could not run on it ({FirstLine(e.Message)}).", e);
        }
        if (teacherLogits is null) return output.shape[^1]; // a teacher of labels only: any number of classes its labels fit
        var expected = teacherLogits.shape.ToArray();
        expected[0] = n;
        if (!output.shape.SequenceEqual(expected)) throw DistillationErrors.OutputShapeMismatch(studentName, output.shape, expected);
        return expected[^1];
    }

    /// <summary>Output channels: axis 0 of Conv and Gemm(transB=1) weights, axis 1 of MatMul / Gemm(transB=0) weights.</summary>
    static long? WeightChannelAxis(OnnxGraphModule module, string name)
    {
        foreach (var n in module.Model.Graph.Node)
        {
            if (n.Input.Count < 2 || n.Input[1] != name) continue;
            return n.OpType switch
            {
                "Conv" => 0,
                "Gemm" => n.Attribute.Any(a => a.Name == "transB" && a.I != 0) ? 0 : 1,
                "MatMul" => 1,
                _ => null,
            };
        }
        return null;
    }

    static Dictionary<string, Tensor> Snapshot(OnnxGraphModule m)
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var noGrad = torch.no_grad();
        foreach (var (k, v) in m.OnnxParameters) state["p:" + k] = v.detach().clone();
        foreach (var (k, v) in m.InitializerBuffers) state["b:" + k] = v.detach().clone();
        return state;
    }

    static void Restore(OnnxGraphModule m, Dictionary<string, Tensor> state)
    {
        using var noGrad = torch.no_grad();
        foreach (var (k, v) in m.OnnxParameters) v.copy_(state["p:" + k]);
        foreach (var (k, v) in m.InitializerBuffers) v.copy_(state["b:" + k]);
    }

    static void DisposeState(Dictionary<string, Tensor>? state)
    {
        if (state is null) return;
        foreach (var t in state.Values) t.Dispose();
    }

    static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
