using Microsoft.Build.Utilities;
using ModelBuild.Tasks.Diagnostics;
using ModelBuild.Tasks.Recipe;

namespace ModelBuild.Tasks.Tests;

/// <summary>
/// Defects a new-user trial found on the build side: misspelt metadata that silently dropped a setting (MB0613);
/// input errors pointing at a report the run never wrote; an OutputName that wrote outside bin/ and obj/ (MB0614);
/// fixes worded with command-line options instead of the item's metadata.
/// Each runs the real task with the stand-in worker, so the codes are produced the way a build produces them.
/// </summary>
public sealed class BuildSideDefectTests : IDisposable
{
    private readonly FakeWorkerProject project = new();

    public void Dispose() => project.Dispose();

    [Fact]
    public void Misspelt_metadata_is_MB0613_naming_each_name_and_the_one_meant_and_no_worker_runs()
    {
        File.WriteAllBytes(Path.Combine(project.Project, "test_x.npy"), [1]);
        var item = project.Item();
        item.RemoveMetadata("Quantize");
        item.SetMetadata("EvaluationData", "test_x.npy");
        // The trial's item: every gate and the technique misspelt; it built with exit 0 and shipped the float model.
        item.SetMetadata("MaxAccuraccyDrop", "0");
        item.SetMetadata("MinAgreemnt", "100");
        item.SetMetadata("Quantise", "int8-static");
        item.SetMetadata("CalibraionData", "calib.npy");
        var engine = new RecordingBuildEngine();

        Assert.False(project.Task(engine, project.Worker(FakeWorkerProject.Succeeds), null, item).Execute(), engine.AllText);

        var error = Assert.Single(engine.Errors);
        Assert.Equal(TaskCodes.MisspeltMetadata, error.Code);
        Assert.Equal("teacher.onnx", error.File);
        Assert.Contains("CompressModel 'teacher.onnx'", error.Message);
        Assert.Contains("'Quantise' (did you mean 'Quantize'?)", error.Message);
        Assert.Contains("'MaxAccuraccyDrop' (did you mean 'MaxAccuracyDrop'?)", error.Message);
        Assert.Contains("'MinAgreemnt' (did you mean 'MinAgreement'?)", error.Message);
        Assert.Contains("'CalibraionData' (did you mean 'CalibrationData'?)", error.Message);
        Assert.Contains(" Fix: ", error.Message);
        Assert.Equal(0, project.WorkerRuns);
    }

    [Theory]
    [InlineData("Max_Accuracy_Drop", "MaxAccuracyDrop")] // equal ignoring '_' (more than 2 edits)
    [InlineData("max-latency-microseconds", "MaxLatencyMicroseconds")]
    [InlineData("Quantzie", "Quantize")]
    [InlineData("OutputNmae", "OutputName")]
    [InlineData("Recipes", "Recipe")]
    [InlineData("TrainData", "TrainingData")] // the command line's --train-data, 3 edits away
    [InlineData("eval-labels", "EvaluationLabels")]
    [InlineData("MaxLatencyUs", "MaxLatencyMicroseconds")]
    [InlineData("Prun", "Prune")] // one edit of a short name
    public void A_near_miss_names_the_metadata_meant(string written, string meant)
    {
        var item = new TaskItem("teacher.onnx");
        item.SetMetadata(written, "1");
        var e = Assert.Throws<TaskDiagnosticException>(() => RecipeFromItem.Build(item, project.Project));
        Assert.Equal(TaskCodes.MisspeltMetadata, e.Code);
        Assert.Contains($"'{written}' (did you mean '{meant}'?)", e.Cause);
    }

    [Fact]
    public void Other_tools_metadata_targets_metadata_other_case_and_empty_values_stay_allowed()
    {
        var item = project.Item(); // TargetPath, IntermediatePath, StampFile, InputsFile, ReportFile, as the targets add them
        foreach (var name in new[] { "Link", "Visible", "CopyToOutputDirectory", "CopyToPublishDirectory", "Pack", "PackagePath", "Private",
                     "DependentUpon", "SubType", "Generator", "LastGenOutput", "DesignTime", "AutoGen", "ExcludeFromSingleFile", "Owner", "TeamNotes",
                     // two edits from the short names Force, Loss, Labels, Seeds, Seed, Prune, Prefer: other tools' words
                     "Source", "Class", "Layers", "Heads", "Head", "Step", "Tune", "Prefix", "Slots" })
            item.SetMetadata(name, "x");
        item.SetMetadata("quantize", "int8-static"); // MSBuild metadata names ignore case: this is Quantize
        item.SetMetadata("Quantise", ""); // an ItemDefinitionGroup's empty declaration sets nothing
        var recipe = RecipeFromItem.Build(item, project.Project);
        Assert.Equal("int8-static", recipe.Quantize);
    }

    private string ObjReport => Path.Combine(project.Project, "obj", "modelbuild-out", "wine.onnx.report.json");

    [Theory]
    [InlineData("MB0503", "'test_x.npy' holds NaN at flat index 3 (sample 0)")]
    [InlineData("MB0507", "ONNX Runtime cannot load the model: protobuf parsing failed")]
    [InlineData("MB0510", "The data has shape [4,3] but the model input expects [N,13]")]
    public void An_input_error_names_no_report_when_the_run_wrote_none_even_if_an_earlier_build_left_one(string code, string cause)
    {
        // An earlier successful build left its report in obj/; then an input changes and the worker rejects it.
        var item = project.Item();
        Assert.True(project.Task(new RecordingBuildEngine(), project.Worker(FakeWorkerProject.Succeeds), null, item).Execute());
        Assert.True(File.Exists(ObjReport));
        File.WriteAllBytes(Path.Combine(project.Project, "calib.npy"), [9, 9, 9]);
        var engine = new RecordingBuildEngine();

        Assert.False(project.Task(engine, project.Worker($"""echo "##modelbuild[error {code}] {cause} | fix the input"; exit 2""", "dotnet2"), null, item).Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal(code, error.Code);
        Assert.EndsWith("Fix: fix the input", error.Message);
        Assert.DoesNotContain("Report:", error.Message);
        Assert.DoesNotContain(ObjReport, error.Message);
    }

    [Fact]
    public void A_gate_error_keeps_the_report_it_wrote_and_the_report_is_in_obj()
    {
        var worker = project.Worker("""
            echo '{"teacher":{"bytes":10,"latencyMicroseconds":6.2},"result":{"bytes":5,"latencyMicroseconds":9.9},"gate":"latency 6.2 us -> 9.9 us (allowed 8.0)"}' > "$report"
            echo "##modelbuild[error MB0522] The compressed model takes 9.9 us at batch 1, over the allowed 8.0 us. | Raise MaxLatencyMicroseconds"
            exit 1
            """);
        var engine = new RecordingBuildEngine();

        Assert.False(project.Task(engine, worker).Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal("MB0522", error.Code);
        Assert.EndsWith($"Report: {ObjReport}", error.Message);
        Assert.Contains("9.9 us", File.ReadAllText(ObjReport));
    }

    /// <summary>
    /// A failed run's report replaces the good one in obj/; with the inputs put back, the next build must bring the good
    /// report back from the cache, not call the old output "up to date" beside the failed verdict.
    /// </summary>
    [Fact]
    public void After_a_failed_gate_putting_the_inputs_back_restores_the_good_report()
    {
        var item = project.Item();
        var calibration = Path.Combine(project.Project, "calib.npy");
        var good = File.ReadAllBytes(calibration);
        Assert.True(project.Task(new RecordingBuildEngine(), project.Worker(FakeWorkerProject.Succeeds), null, item).Execute());
        var goodReport = File.ReadAllText(ObjReport);

        File.WriteAllBytes(calibration, [9, 9, 9]);
        var failing = project.Worker("""
            echo '{"teacher":{"bytes":10},"result":{"bytes":5,"latencyMicroseconds":9.9},"gate":"failed"}' > "$report"
            echo "##modelbuild[error MB0522] Too slow. | Raise MaxLatencyMicroseconds"
            exit 1
            """, "dotnet2");
        Assert.False(project.Task(new RecordingBuildEngine(), failing, null, item).Execute());
        Assert.Contains("9.9", File.ReadAllText(ObjReport));

        File.WriteAllBytes(calibration, good);
        var engine = new RecordingBuildEngine();
        Assert.True(project.Task(engine, failing, null, item).Execute(), engine.AllText);
        Assert.Equal(goodReport, File.ReadAllText(ObjReport));
    }

    [Fact]
    public void A_gate_error_that_names_its_report_gets_no_second_suffix()
    {
        var worker = project.Worker("""
            echo '{"teacher":{"bytes":10,"accuracy":98},"result":{"bytes":5,"accuracy":90},"gate":"accuracy 98% -> 90%"}' > "$report"
            echo "##modelbuild[error MB0520] The compressed model loses 8.00 accuracy points. See $report. | Raise MaxAccuracyDrop"
            exit 1
            """);
        var engine = new RecordingBuildEngine();

        Assert.False(project.Task(engine, worker).Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Contains($"See {ObjReport}.", error.Message);
        Assert.DoesNotContain("Report:", error.Message);
        Assert.True(File.Exists(ObjReport));
    }

    /// <summary>The item as ModelBuild.targets hands it over: TargetPath is the OutputName, the obj/ paths are built on it.</summary>
    private Microsoft.Build.Utilities.TaskItem ItemWithOutputName(string outputName)
    {
        var item = project.Item(outputName);
        var obj = Path.Combine(project.Project, "obj", "modelbuild-out") + "/";
        item.SetMetadata("OutputName", outputName);
        foreach (var (metadata, suffix) in new[] { ("IntermediatePath", ""), ("StampFile", ".stamp"), ("InputsFile", ".inputs"), ("ReportFile", ".report.json") })
            item.SetMetadata(metadata, obj + outputName + suffix); // string concatenation, as the targets do
        return item;
    }

    [Theory]
    [InlineData("../../escape.onnx", "leads outside")]
    [InlineData("models/../../escape.onnx", "leads outside")]
    [InlineData("models\\..\\..\\escape.onnx", "leads outside")]
    [InlineData("/tmp/mb-escape.onnx", "leads outside")]
    [InlineData("models/..", "names the output folder itself")]
    public void An_OutputName_outside_the_output_folder_is_MB0614_and_nothing_is_written(string outputName, string why)
    {
        var engine = new RecordingBuildEngine();
        var worker = project.Worker(FakeWorkerProject.Succeeds);
        var before = Directory.GetFileSystemEntries(project.Root, "*", SearchOption.AllDirectories).ToHashSet();

        Assert.False(project.Task(engine, worker, null, ItemWithOutputName(outputName)).Execute());

        var error = Assert.Single(engine.Errors);
        Assert.Equal(TaskCodes.OutputOutsideFolder, error.Code);
        Assert.Contains($"CompressModel 'teacher.onnx': OutputName '{outputName}' {why}", error.Message);
        Assert.Contains(" Fix: Give OutputName a relative path", error.Message);
        Assert.Equal(0, project.WorkerRuns);
        Assert.False(File.Exists("/tmp/mb-escape.onnx"));
        // Nothing new anywhere in the project, obj/ included, and nothing beside it.
        var modelbuild = Path.Combine(project.Project, "obj", "modelbuild"); // the task's own cache and logs
        Assert.DoesNotContain(Directory.GetFileSystemEntries(project.Root, "*", SearchOption.AllDirectories),
            p => !before.Contains(p) && p != modelbuild && !p.StartsWith(modelbuild + "/", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("models/wine.onnx")]
    [InlineData("models/../wine.onnx")]
    [InlineData("./wine.onnx")]
    public void An_OutputName_inside_the_output_folder_builds(string outputName)
    {
        var engine = new RecordingBuildEngine();
        Assert.True(project.Task(engine, project.Worker(FakeWorkerProject.Succeeds), null, ItemWithOutputName(outputName)).Execute(), engine.AllText);
        Assert.True(File.Exists(Path.Combine(project.Project, "obj", "modelbuild-out", outputName)));
    }

    [Theory]
    // The worker's own messages (QuantizeStage, QuantizationChoice, DistillationErrors, CompressionPipeline), as it prints them.
    [InlineData("Static int8 quantization needs calibration data and none was given. | Pass --calibration-data <x.npy> (a few hundred representative inputs), or use --quantize int8-dynamic.",
        "Static int8 quantization needs calibration data and none was given. Fix: Pass CalibrationData=\"<x.npy>\" (a few hundred representative inputs), or use Quantize=\"int8-dynamic\".")]
    [InlineData("int8-static is slower than float; writing int8-weights instead. | Pass --force to write the slower quantized model anyway.",
        "int8-static is slower than float; writing int8-weights instead. Fix: Pass Force=\"true\" to write the slower quantized model anyway.")]
    [InlineData("Invalid distillation setting --student-width: 0 must be above 0. | Fix the value of --student-width (see `modelbuild compress --help`).",
        "Invalid distillation setting StudentWidth: 0 must be above 0. Fix: Fix the value of StudentWidth (see `modelbuild compress --help`).")]
    [InlineData("Invalid distillation setting --loss relation: name the tensor pair. | Fix the value of --loss relation (see `modelbuild compress --help`).",
        "Invalid distillation setting Loss=\"relation\": name the tensor pair. Fix: Fix the value of Loss=\"relation\" (see `modelbuild compress --help`).")]
    [InlineData("--max-accuracy-drop (MaxAccuracyDrop) is set but the evaluation data has no labels. | Pass --eval-labels <y.npy> (EvaluationLabels on the item), or gate on --min-agreement instead.",
        "MaxAccuracyDrop is set but the evaluation data has no labels. Fix: Pass EvaluationLabels=\"<y.npy>\", or gate on MinAgreement instead.")]
    [InlineData("Loses 3 points. | Raise MaxAccuracyDrop (--max-accuracy-drop), or remove --max-accuracy-drop/--min-agreement.",
        "Loses 3 points. Fix: Raise MaxAccuracyDrop, or remove MaxAccuracyDrop/MinAgreement.")]
    [InlineData("--student-depth 0.5 asks for fewer layers. | Add --quantize int8-static with --calibration-data (Quantize=\"int8-static\" and CalibrationData on the item), or drop --quantization-aware.",
        "StudentDepth=\"0.5\" asks for fewer layers. Fix: Add Quantize=\"int8-static\" with CalibrationData, or drop QuantizationAware=\"true\".")]
    // Options with no metadata stay as they are.
    [InlineData("Timing was skipped. | Let ModelBuild time the model (drop --latency-runs 0); `modelbuild cache list --remote-cache ...` reproduces it.",
        "Timing was skipped. Fix: Let ModelBuild time the model (drop --latency-runs 0); `modelbuild cache list --remote-cache ...` reproduces it.")]
    public void A_fix_names_the_item_metadata_not_the_command_line_option(string workerText, string shown) =>
        Assert.Equal(shown, Worker.WorkerLineForwarder.Message(workerText));

    [Fact]
    public void Worker_errors_and_warnings_in_a_build_name_item_metadata()
    {
        var engine = new RecordingBuildEngine();
        var worker = project.Worker("""
            echo "##modelbuild[warning MB0205] int8-static is slower than float; writing int8-weights instead. | Pass --force to write the slower quantized model anyway."
            echo "##modelbuild[error MB0204] Static int8 quantization needs calibration data and none was given. | Pass --calibration-data <x.npy> (a few hundred representative inputs), or use --quantize int8-dynamic."
            exit 2
            """);

        Assert.False(project.Task(engine, worker).Execute());

        var warning = Assert.Single(engine.Warnings);
        Assert.Equal("MB0205", warning.Code);
        Assert.EndsWith("Fix: Pass Force=\"true\" to write the slower quantized model anyway.", warning.Message);
        var error = Assert.Single(engine.Errors);
        Assert.Equal("MB0204", error.Code);
        Assert.EndsWith("Fix: Pass CalibrationData=\"<x.npy>\" (a few hundred representative inputs), or use Quantize=\"int8-dynamic\".", error.Message);
        Assert.DoesNotContain("--", warning.Message + error.Message);
    }
}
