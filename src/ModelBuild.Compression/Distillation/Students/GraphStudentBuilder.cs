using ModelBuild.Compression.Structure;
using Onnx;

namespace ModelBuild.Compression.Distillation.Students;

/// <summary>What <see cref="GraphStudentBuilder"/> did to the teacher's graph, for reports and tests.</summary>
public sealed record StudentDerivation(IReadOnlyList<string> Depth, IReadOnlyList<string> Width);

/// <summary>
/// Derives a student from a Conv or transformer teacher by editing a copy of the teacher's graph, so the student
/// keeps the teacher's operators, inputs and outputs: depth first (<see cref="TransformerLayerFinder"/> or
/// <see cref="SameShapeBlockFinder"/>: each run of n identical layers keeps <c>max(1, round(n * depth))</c>), then
/// width (<see cref="CoupledWidthScaler"/>). The result is run once in ONNX Runtime. Its weights are the teacher's:
/// the kept layers (a uniform map, <see cref="LayerRun.UniformMap"/>) and, in each coupled group, the units the
/// pruning importance ranks highest, so the distiller starts from the teacher (DistilBERT's recipe) unless asked to
/// re-initialize them with PyTorch's defaults.
/// </summary>
public static class GraphStudentBuilder
{
    public static (ModelProto Student, StudentDerivation Derivation) Derive(ModelProto teacher, double width, double depth, double ffnWidth, string teacherFile)
    {
        var model = teacher.Clone();
        GraphNormalizer.Normalize(model);
        // Every tensor's shape is needed only to find same-shape Conv blocks and to couple widths.
        var transformer = TransformerLayerFinder.Find(model);
        bool needsAllShapes = transformer is null || width < 1 || ffnWidth < 1;
        var teacherShapes = Probe(model, teacherFile, "the teacher", needsAllShapes);
        // Head counts in Reshape targets computed at run time (Hugging Face exports) become editable constants.
        if (width < 1 || ffnWidth < 1)
        {
            int folded = GraphNormalizer.FoldComputedReshapeTargets(model, teacherShapes);
            // Other exporters' forms (keras2onnx's Tensordot) are folded from runs at two input sizes.
            folded += ProbedReshapeTargets.Fold(model, Evaluation.TensorShapeProbe.TryRun);
            if (folded > 0) teacherShapes = Probe(model, teacherFile, "the teacher", needsAllShapes);
        }

        var depthLines = new List<string>();
        var runs = transformer is not null ? new[] { transformer } : SameShapeBlockFinder.Find(model, teacherShapes);
        if (depth < 1)
        {
            var repeatable = runs.Where(r => r.Count >= 2).ToList();
            if (repeatable.Count == 0) throw StudentDerivationErrors.NoRepeatableBlock(teacherFile, depth);
            var removed = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var run in repeatable)
            {
                int keep = Math.Max(1, (int)Math.Round(run.Count * depth, MidpointRounding.AwayFromZero));
                var kept = run.KeepUniform(model, keep);
                depthLines.Add($"{run.Kind}: {run.Count} -> {kept.Length} (keeps the teacher's layer{(kept.Length > 1 ? "s" : "")} {string.Join(", ", kept.Select(k => k + 1))} of {run.Count})");
            }
            removed.ExceptWith(model.Graph.Initializer.Select(t => t.Name));
            model.Graph.ValueInfo.Clear();
            GraphNormalizer.SyncInitializerInputs(model, removed);
        }

        var widthLines = new List<string>();
        if (width < 1 || ffnWidth < 1)
        {
            var shapes = depthLines.Count > 0 ? Probe(model, teacherFile, "the depth-reduced student") : teacherShapes;
            widthLines = CoupledWidthScaler.Apply(model, width, ffnWidth, shapes);
            if (widthLines.Count == 0)
            {
                var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
                var computed = model.Graph.Node.FirstOrDefault(n => n.OpType == "Reshape" && n.Input.Count > 1 && !initializers.Contains(n.Input[1]));
                if (computed is not null) throw StudentDerivationErrors.ComputedReshapeTarget(teacherFile, Math.Min(width, ffnWidth), computed.Name.Length > 0 ? computed.Name : computed.Output[0]);
                throw StudentDerivationErrors.NothingToScale(teacherFile, Math.Min(width, ffnWidth));
            }
        }

        var studentShapes = Probe(model, teacherFile, "the derived student", intermediates: false);
        foreach (var output in model.Graph.Output)
        {
            if (!studentShapes[output.Name].SequenceEqual(teacherShapes[output.Name]))
                throw StudentDerivationErrors.InvalidStudentGraph(teacherFile,
                    $"output '{output.Name}' has shape [{string.Join(",", studentShapes[output.Name])}] instead of the teacher's [{string.Join(",", teacherShapes[output.Name])}].", null);
        }
        model.ProducerName = "ModelBuild";
        model.Graph.Name = "student";
        model.DocString = $"Student derived from {Path.GetFileName(teacherFile)}: depth x{depth} ({string.Join("; ", depthLines)}), width x{width}, FFN width x{ffnWidth}.";
        return (model, new StudentDerivation(depthLines, widthLines));
    }

    static Dictionary<string, long[]> Probe(ModelProto model, string teacherFile, string what, bool intermediates = true)
    {
        try
        {
            return Evaluation.TensorShapeProbe.Run(model, intermediates);
        }
        catch (Exception e) when (e is Microsoft.ML.OnnxRuntime.OnnxRuntimeException or ModelBuild.Onnx.Diagnostics.ModelBuildException { Code: Evaluation.TensorShapeProbe.CannotFeedCode })
        {
            throw StudentDerivationErrors.InvalidStudentGraph(teacherFile, $"{what} failed to run ({e.Message.Split('\n')[0]}).", e);
        }
    }
}
