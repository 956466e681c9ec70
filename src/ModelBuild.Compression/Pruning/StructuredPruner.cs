using System.Text.RegularExpressions;
using ModelBuild.Compression.Evaluation;
using ModelBuild.Compression.Structure;
using ModelBuild.Onnx;

namespace ModelBuild.Compression.Pruning;

/// <summary>
/// Structured pruning of an ONNX model: normalize, probe shapes in ONNX Runtime, build dependency groups,
/// rank each group's units, remove the least important <see cref="PruningOptions.Fraction"/> of them from
/// every member of the group, and re-run the pruned graph in ONNX Runtime (which also checks it). The result
/// keeps the input's opset and operators; only initializers, Reshape constants and Conv group counts change.
/// </summary>
public static class StructuredPruner
{
    public static PruningResult Prune(OnnxModel model, PruningOptions options)
    {
        string display = model.DisplayName;
        if (!(options.Fraction > 0 && options.Fraction < 1))
        {
            throw PruningErrors.Fraction(options.Fraction, display);
        }
        var working = model.Clone();
        var proto = working.Proto;
        GraphNormalizer.Normalize(proto);
        working.InvalidateGraph();
        var shapes = TensorShapeProbe.Run(proto);
        // Head counts in Reshape targets computed at run time (Hugging Face exports) become editable constants.
        // Other exporters' forms (keras2onnx's Tensordot) are folded from runs at two input sizes.
        if (GraphNormalizer.FoldComputedReshapeTargets(proto, shapes) + ProbedReshapeTargets.Fold(proto, TensorShapeProbe.TryRun) > 0)
        {
            working.InvalidateGraph();
            shapes = TensorShapeProbe.Run(proto);
        }
        var graph = DependencyGraph.Build(proto, shapes);
        long paramsBefore = working.ParameterCount;
        long flopsBefore = ModelCost.Flops(proto, shapes);

        var excluded = ExclusionMatcher(options.Exclude, proto, display);
        var (candidates, skipped, warnings) = Triage(graph, options, excluded);

        if (candidates.Count == 0) return Unchanged(model, paramsBefore, flopsBefore, skipped, warnings, graph, display);

        var criterion = CreateCriterion(options, display);
        if (options.CalibrationData is { } calibration && options.CustomCriterion is null
            && options.Criterion is ImportanceCriterion.Activation or ImportanceCriterion.Taylor)
        {
            CheckCalibration(proto, calibration);
        }
        var scores = criterion.Score(proto, candidates);
        var plan = Select(candidates, scores, options);
        GroupRewriter.Apply(proto, plan);
        working.InvalidateGraph();
        var after = TensorShapeProbe.Run(proto); // runs the pruned graph in ORT: a broken rewrite fails here
        var result = new PruningResult
        {
            Model = working,
            ParametersBefore = paramsBefore,
            ParametersAfter = working.ParameterCount,
            FlopsBefore = flopsBefore,
            FlopsAfter = ModelCost.Flops(proto, after),
            Criterion = criterion.Name,
            Plan = plan,
        };
        foreach (var (group, removed) in plan)
        {
            result.Pruned.Add(new PrunedGroupReport(group.Name, group.Kind, group.Units, group.Units - removed.Count, group.Root.UnitSize, group.Nodes.ToList(), removed.ToList()));
        }
        result.Skipped.AddRange(skipped);
        result.Warnings.AddRange(warnings);
        return result;
    }

    /// <summary>
    /// Which groups get pruned: the rewritable ones of the selected kinds, not excluded, with at least two units. The
    /// others are reported with their reason (a group that cannot be rewritten also warns, unless it is the hidden size
    /// or reaches a model output).
    /// </summary>
    private static (List<PruningGroup> Candidates, List<SkippedGroupReport> Skipped, List<string> Warnings) Triage(
        DependencyGraph graph, PruningOptions options, Func<string, bool> excluded)
    {
        var candidates = new List<PruningGroup>();
        var skipped = new List<SkippedGroupReport>();
        var warnings = new List<string>();
        foreach (var group in graph.Groups)
        {
            if (!group.IsPrunable)
            {
                skipped.Add(new SkippedGroupReport(group.Name, group.Kind, group.Units, group.NotPrunableReason!));
                if (group.Kind is not PruningUnitKind.HiddenSize && !group.NotPrunableReason!.StartsWith("reaches model output", StringComparison.Ordinal))
                {
                    warnings.Add(PruningErrors.NotRewritableWarning(group));
                }
            }
            else if (!options.Kinds.Contains(group.Kind))
            {
                skipped.Add(new SkippedGroupReport(group.Name, group.Kind, group.Units, $"{group.Kind} pruning not selected"));
            }
            else if (group.Nodes.Concat(group.Parameters.Select(p => p.Initializer)).FirstOrDefault(excluded) is { } hit)
            {
                skipped.Add(new SkippedGroupReport(group.Name, group.Kind, group.Units, $"excluded ('{hit}' is protected)"));
            }
            else if (group.Units < 2)
            {
                skipped.Add(new SkippedGroupReport(group.Name, group.Kind, group.Units, "a single unit cannot be pruned"));
            }
            else
            {
                candidates.Add(group);
            }
        }
        return (candidates, skipped, warnings);
    }

    /// <summary>Nothing to prune: the model as it was, with the skipped groups and why.</summary>
    private static PruningResult Unchanged(OnnxModel model, long paramsBefore, long flopsBefore, List<SkippedGroupReport> skipped,
        List<string> warnings, DependencyGraph graph, string display)
    {
        var unchanged = new PruningResult
        {
            Model = model.Clone(),
            ParametersBefore = paramsBefore,
            ParametersAfter = paramsBefore,
            FlopsBefore = flopsBefore,
            FlopsAfter = flopsBefore,
            Criterion = "none",
        };
        unchanged.Skipped.AddRange(skipped);
        unchanged.Warnings.AddRange(warnings);
        unchanged.Warnings.Add(PruningErrors.NothingPrunableWarning(display, graph.Groups));
        return unchanged;
    }

    internal static IImportanceCriterion CreateCriterion(PruningOptions options, string display) => options.CustomCriterion ?? options.Criterion switch
    {
        ImportanceCriterion.L1 => new MagnitudeImportance(1),
        ImportanceCriterion.L2 => new MagnitudeImportance(2),
        ImportanceCriterion.Activation => options.CalibrationData is { } data
            ? new ActivationImportance(data, options.CalibrationSamples)
            : throw PruningErrors.NeedsData("activation", display),
        ImportanceCriterion.Taylor => options.CalibrationData is { } taylorData
            ? new TaylorImportance(taylorData, options.CalibrationLabels, options.CalibrationSamples)
            : throw PruningErrors.NeedsData("Taylor", display),
        _ => throw new ArgumentOutOfRangeException(nameof(options)),
    };

    /// <summary>Per group (or globally) the lowest-scoring units to remove; every group keeps at least one unit. Ties break by unit index.</summary>
    internal static List<(PruningGroup Group, IReadOnlyCollection<int> RemovedUnits)> Select(
        IReadOnlyList<PruningGroup> groups, IReadOnlyList<double[]> scores, PruningOptions options)
    {
        var plan = new List<(PruningGroup, IReadOnlyCollection<int>)>();
        if (!options.GlobalRanking)
        {
            for (int g = 0; g < groups.Count; g++)
            {
                int remove = options.KeepUnits?.TryGetValue(groups[g].Name, out int keep) == true
                    ? Math.Max(0, groups[g].Units - Math.Max(1, keep))
                    : Math.Min(groups[g].Units - 1, (int)Math.Round(options.Fraction * groups[g].Units, MidpointRounding.AwayFromZero));
                var order = Enumerable.Range(0, groups[g].Units).OrderBy(u => scores[g][u]).ThenBy(u => u);
                plan.Add((groups[g], order.Take(remove).OrderBy(u => u).ToArray()));
            }
            return plan;
        }
        var all = groups.SelectMany((grp, g) =>
        {
            double mean = scores[g].Average();
            return Enumerable.Range(0, grp.Units).Select(u => (g, u, s: mean > 0 ? scores[g][u] / mean : 0));
        }).OrderBy(x => x.s).ThenBy(x => x.g).ThenBy(x => x.u).ToList();
        int budget = (int)Math.Round(options.Fraction * all.Count, MidpointRounding.AwayFromZero);
        var removed = groups.Select(_ => new List<int>()).ToArray();
        foreach (var (g, u, _) in all)
        {
            if (budget == 0)
            {
                break;
            }
            if (removed[g].Count < groups[g].Units - 1)
            {
                removed[g].Add(u);
                budget--;
            }
        }
        for (int g = 0; g < groups.Count; g++)
        {
            plan.Add((groups[g], removed[g].OrderBy(u => u).ToArray()));
        }
        return plan;
    }

    /// <summary>MB0407 when the calibration rows do not have the model input's fixed dims or element kind.</summary>
    internal static void CheckCalibration(global::Onnx.ModelProto proto, Data.DataTensor data)
    {
        var initializers = proto.Graph.Initializer.Select(t => t.Name).ToHashSet();
        var input = proto.Graph.Input.First(i => !initializers.Contains(i.Name));
        var dims = input.Type.TensorType.Shape.Dim;
        var array = $"{data.ElementTypeName}{data.ShapeText}";
        if (dims.Count != data.Shape.Length)
        {
            throw PruningErrors.Calibration($"the array {array} has rank {data.Shape.Length}, model input '{input.Name}' has rank {dims.Count}", null);
        }
        for (int i = 1; i < dims.Count; i++)
        {
            if (dims[i].DimValue > 0 && dims[i].DimValue != data.Shape[i])
            {
                throw PruningErrors.Calibration($"the array {array} has {data.Shape[i]} on axis {i}, model input '{input.Name}' expects {dims[i].DimValue}", null);
            }
        }
        bool integerInput = input.Type.TensorType.ElemType is (int)global::Onnx.TensorProto.Types.DataType.Int64 or (int)global::Onnx.TensorProto.Types.DataType.Int32;
        bool integerData = !data.IsFloat;
        if (integerInput != integerData)
        {
            throw PruningErrors.Calibration($"the array {array} holds {(integerData ? "integers" : "floats")}, model input '{input.Name}' takes {(integerInput ? "integer ids" : "floats")}", null);
        }
    }

    private static Func<string, bool> ExclusionMatcher(IReadOnlyList<string> patterns, global::Onnx.ModelProto proto, string display)
    {
        if (patterns.Count == 0)
        {
            return _ => false;
        }
        var names = proto.Graph.Node.Select(n => n.Name).Concat(proto.Graph.Initializer.Select(i => i.Name)).ToList();
        var regexes = new List<Regex>();
        foreach (string pattern in patterns)
        {
            var regex = new Regex("^" + Regex.Escape(pattern).Replace("\\*", ".*") + "$", RegexOptions.CultureInvariant);
            if (!names.Any(regex.IsMatch))
            {
                throw PruningErrors.ExcludeNothing(pattern, display);
            }
            regexes.Add(regex);
        }
        return name => regexes.Any(r => r.IsMatch(name));
    }
}
