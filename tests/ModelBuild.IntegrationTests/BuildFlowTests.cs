using System.Text.RegularExpressions;

namespace ModelBuild.IntegrationTests;

/// <summary>The acceptance of issue 5, on real `dotnet build`/`publish`/`clean` runs of throw-away projects.</summary>
[Collection(PackageCollection.Name)]
public sealed partial class BuildFlowTests(PackageFixture package)
{
    private static readonly Regex NativeEngineFile = new("torch|onnxruntime|c10|gomp|skia", RegexOptions.IgnoreCase);

    [Fact]
    public void Build_puts_the_compressed_model_in_bin_publish_too_and_no_engine_file_in_either()
    {
        using var project = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static);
        var build = project.Build();
        Assert.True(build.Succeeded, build.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, build.Output);

        var teacher = File.ReadAllBytes(project.PathOf("teacher.onnx"));
        var inBin = project.PathOf("bin/Debug/net10.0/models/wine.onnx");
        Assert.True(File.Exists(inBin), build.Output);
        var compressed = File.ReadAllBytes(inBin);
        Assert.True(compressed.Length < teacher.Length / 2, $"{compressed.Length} B is not a quantized copy of the {teacher.Length} B teacher");
        // The build summary: one high-importance line with sizes, latency and accuracy.
        Assert.Matches(@"ModelBuild: models/wine\.onnx: 281,255 B -> [\d,]+ B \([\d.]+x smaller\), latency [\d.]+ us -> [\d.]+ us, accuracy", build.Output);
        // Each stage's timing at normal verbosity.
        Assert.Matches(@"models/wine\.onnx: stage quantize [\d.]+s", build.Output);

        var publish = DotnetCommand.Run(project.Directory, "publish", "-o", project.PathOf("publish"));
        Assert.True(publish.Succeeded, publish.ToString());
        Assert.Equal(compressed, File.ReadAllBytes(project.PathOf("publish/models/wine.onnx")));

        foreach (var folder in new[] { "bin", "publish" })
        {
            var engineFiles = System.IO.Directory.EnumerateFiles(project.PathOf(folder), "*", SearchOption.AllDirectories)
                .Where(f => NativeEngineFile.IsMatch(Path.GetFileName(f))).ToList();
            Assert.True(engineFiles.Count == 0, $"{folder}/ holds engine files: {string.Join(", ", engineFiles)}");
        }

        var run = DotnetCommand.Run(project.PathOf("publish"), "exec", "App.dll");
        Assert.Equal("True", run.Output.Trim());
    }

    [Fact]
    public void Public_hooks_run_before_the_items_are_read_and_after_the_outputs_exist()
    {
        using var project = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static);
        // Directory.Build.targets is imported after the package's targets, as a user's own targets are.
        File.WriteAllText(project.PathOf("Directory.Build.targets"), """
            <Project>
              <Target Name="HookBefore" BeforeTargets="ModelBuild_BeforeCompress">
                <Message Importance="high" Text="hook before: @(CompressModel)" />
              </Target>
              <Target Name="HookAfter" AfterTargets="ModelBuild_AfterCompress">
                <Message Importance="high" Text="hook after: %(ModelBuildOutput.TargetPath)" Condition="Exists('%(ModelBuildOutput.FullPath)')" />
              </Target>
            </Project>
            """);
        var build = project.Build();
        Assert.True(build.Succeeded, build.ToString());
        var before = build.Output.IndexOf("hook before: teacher.onnx", StringComparison.Ordinal);
        var worker = build.Output.IndexOf(ThrowAwayProject.WorkerStarted, StringComparison.Ordinal);
        var after = build.Output.IndexOf("hook after: models/wine.onnx", StringComparison.Ordinal);
        Assert.True(before >= 0 && worker > before && after > worker, build.Output);
    }

    /// <summary>
    /// A data spec that is not a plain path (<c>calib.npz:x</c>, <c>generated:8</c>) was an input MSBuild could not find,
    /// so the target ran on every build. The .npz itself is the input now, and a generated spec none. The folder has an
    /// apostrophe and the member a slash: the first version of the fix failed such a build (MSB4100) or missed the file.
    /// </summary>
    [Fact]
    public void An_npz_member_and_generated_data_are_up_to_date_on_the_second_build_and_new_npz_bytes_rerun()
    {
        using var project = new ThrowAwayProject(package,
            """<CompressModel Include="teacher.onnx" OutputName="models/wine.onnx" Quantize="int8-static" CalibrationData="o'brien data/calib.npz:enc/x" EvaluationData="generated:8" Force="true" />""");
        void WriteNpz(byte[] member)
        {
            var path = project.PathOf("o'brien data/calib.npz");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Delete(path);
            using var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Create);
            using var entry = zip.CreateEntry("enc/x.npy").Open();
            entry.Write(member);
        }
        var calibration = File.ReadAllBytes(project.PathOf("calib_x.npy"));
        WriteNpz(calibration);
        var first = project.Build();
        Assert.True(first.Succeeded, first.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, first.Output);

        var second = project.Build();
        Assert.True(second.Succeeded, second.ToString());
        Assert.DoesNotContain(ThrowAwayProject.WorkerStarted, second.Output);
        Assert.Contains("Skipping target \"_ModelBuildCompress\" because all output files are up-to-date", second.Output);

        var last = BitConverter.ToSingle(calibration, calibration.Length - 4);
        BitConverter.GetBytes(last + 0.25f).CopyTo(calibration, calibration.Length - 4);
        WriteNpz(calibration);
        var changed = project.Build();
        Assert.True(changed.Succeeded, changed.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, changed.Output);
    }

    [Fact]
    public void Incremental_builds_start_no_worker_touch_does_not_recompress_new_bytes_do_and_clean_removes_the_output()
    {
        using var project = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static);
        var first = project.Build();
        Assert.True(first.Succeeded, first.ToString());
        var inBin = project.PathOf("bin/Debug/net10.0/models/wine.onnx");
        var inObj = project.PathOf("obj/Debug/net10.0/modelbuild/models/wine.onnx");
        Assert.True(File.Exists(inBin));
        var reports = new[] { ".report.json", ".report.md", ".report.html" }.Select(extension => inObj + extension).ToList();
        Assert.All(reports, report => Assert.True(File.Exists(report), $"the build did not write {report}"));

        var second = project.Build();
        Assert.True(second.Succeeded, second.ToString());
        Assert.DoesNotContain(ThrowAwayProject.WorkerStarted, second.Output);
        Assert.Contains("Skipping target \"_ModelBuildCompress\" because all output files are up-to-date", second.Output);

        var calibration = project.PathOf("calib_x.npy");
        File.SetLastWriteTimeUtc(calibration, DateTime.UtcNow);
        var touched = project.Build();
        Assert.True(touched.Succeeded, touched.ToString());
        Assert.DoesNotContain(ThrowAwayProject.WorkerStarted, touched.Output);
        Assert.Contains("inputs touched but unchanged", touched.Output);

        // New bytes: the last float of the calibration set changes (a .npy's data ends the file).
        var bytes = File.ReadAllBytes(calibration);
        var last = BitConverter.ToSingle(bytes, bytes.Length - 4);
        BitConverter.GetBytes(last + 0.25f).CopyTo(bytes, bytes.Length - 4);
        File.WriteAllBytes(calibration, bytes);
        var changed = project.Build();
        Assert.True(changed.Succeeded, changed.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, changed.Output);

        // New bytes under an older time (what cp -p, tar or rsync -a leave): "newer than the outputs" alone misses it.
        BitConverter.GetBytes(last + 0.5f).CopyTo(bytes, bytes.Length - 4);
        File.WriteAllBytes(calibration, bytes);
        File.SetLastWriteTimeUtc(calibration, new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc));
        var older = project.Build();
        Assert.True(older.Succeeded, older.ToString());
        Assert.Contains(ThrowAwayProject.WorkerStarted, older.Output);
        var afterOlder = project.Build();
        Assert.True(afterOlder.Succeeded, afterOlder.ToString());
        Assert.Contains("Skipping target \"_ModelBuildCompress\" because all output files are up-to-date", afterOlder.Output);

        var clean = DotnetCommand.Run(project.Directory, "clean");
        Assert.True(clean.Succeeded, clean.ToString());
        Assert.False(File.Exists(inBin), "dotnet clean left the model in bin/");
        Assert.False(File.Exists(inObj), "dotnet clean left the model in obj/");
        Assert.All(reports, report => Assert.False(File.Exists(report), $"dotnet clean left {report}"));
        Assert.False(System.IO.Directory.Exists(project.PathOf("obj/modelbuild")), "dotnet clean left the local cache");
    }

    [Fact]
    public void Failing_quality_gate_fails_the_build_with_its_code_figures_and_report()
    {
        // 0.001 us at batch 1 is out of reach of any model: the latency gate fails for certain.
        using var project = new ThrowAwayProject(package, """
            <CompressModel Include="teacher.onnx" OutputName="models/wine.onnx" Quantize="int8-dynamic"
                           EvaluationData="test_x.npy" EvaluationLabels="test_y.npy" MaxAccuracyDrop="1.0" MaxLatencyMicroseconds="0.001" />
            """);
        var build = project.Build();
        Assert.False(build.Succeeded, build.ToString());
        var report = project.PathOf("obj/Debug/net10.0/modelbuild/models/wine.onnx.report.json");
        Assert.Matches(@"error MB0522: models/wine\.onnx: The compressed model takes [\d.]+ us at batch 1, over the allowed 0\.0 us", build.Output);
        Assert.Contains(report, build.Output);
        Assert.True(File.Exists(report));
        Assert.Contains("accuracy teacher", build.Output); // the task's line with teacher and result figures
        Assert.False(File.Exists(project.PathOf("bin/Debug/net10.0/models/wine.onnx")));
        Assert.False(File.Exists(project.PathOf("obj/Debug/net10.0/modelbuild/models/wine.onnx")));
    }

    [Fact]
    public void Missing_data_file_and_unknown_value_fail_with_their_codes_naming_item_and_metadata()
    {
        using var project = new ThrowAwayProject(package, """
            <CompressModel Include="teacher.onnx" OutputName="a.onnx" Quantize="int8-static" CalibrationData="Data/missing_calib.npy" />
            <CompressModel Include="teacher.onnx" OutputName="b.onnx" Quantize="int9" />
            """);
        var build = project.Build();
        Assert.False(build.Succeeded, build.ToString());
        Assert.Contains("error MB0602: CompressModel 'teacher.onnx': CalibrationData 'Data/missing_calib.npy' does not exist", build.Output);
        Assert.Contains("error MB0601: CompressModel 'teacher.onnx': Quantize='int9' is not one of", build.Output);
        Assert.DoesNotContain(ThrowAwayProject.WorkerStarted, build.Output);
    }

    [Fact]
    public void Design_time_builds_never_compress()
    {
        using var project = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static);
        var restore = DotnetCommand.Run(project.Directory, "restore");
        Assert.True(restore.Succeeded, restore.ToString());
        // What an IDE's design-time build asks for: the content items (through AssignTargetPaths), no compression.
        var designTime = DotnetCommand.Run(project.Directory, "msbuild", "-t:CompressModels;GetCopyToOutputDirectoryItems", "-p:DesignTimeBuild=true", "-v:n");
        Assert.True(designTime.Succeeded, designTime.ToString());
        Assert.DoesNotContain(ThrowAwayProject.WorkerStarted, designTime.Output);
        Assert.False(File.Exists(project.PathOf("obj/Debug/net10.0/modelbuild/models/wine.onnx")));
    }

    [Fact]
    public void Two_projects_sharing_a_cache_built_together_compress_once_and_a_fresh_copy_hits_without_a_worker()
    {
        var shared = System.IO.Directory.CreateTempSubdirectory("mb-it-shared-").FullName;
        var property = $"<ModelBuildCacheDir>{shared}</ModelBuildCacheDir>";
        try
        {
            // A first build of the same sources reveals the key: its entry <key>/ and lock <key>.lock in the shared cache.
            using (var first = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static, property))
            {
                var seed = first.Build();
                Assert.True(seed.Succeeded, seed.ToString());
            }
            var lockPath = Assert.Single(System.IO.Directory.GetFiles(shared, "*.lock"));
            System.IO.Directory.Delete(Path.ChangeExtension(lockPath, null), recursive: true);

            using var a = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static, property);
            using var b = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static, property);
            Assert.True(DotnetCommand.Run(a.Directory, "restore").Succeeded);
            Assert.True(DotnetCommand.Run(b.Directory, "restore").Succeeded);

            // The test holds the per-key lock as a build does (ModelCache.TryLock: an exclusive open), so both builds
            // are certainly inside the task, waiting on the same key, at the same moment; neither can be a plain hit.
            var runs = new List<DotnetCommand.Running>();
            using (var held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
            {
                runs.Add(a.StartBuild("--no-restore"));
                runs.Add(b.StartBuild("--no-restore"));
                // A bound for a loaded machine, not a timing assertion: a build that never waits ends and fails the test.
                var bothWaiting = runs.All(r => r.WaitForOutput(LockWaitMessage, TimeSpan.FromMinutes(5)));
                held.Dispose();
                if (!bothWaiting) Assert.Fail("both builds should wait for the held lock:\n" + string.Join("\n----\n", runs.Select(r => r.Wait())));
            }
            var results = runs.Select(r => r.Wait()).ToList();
            Assert.All(results, r => Assert.True(r.Succeeded, r.ToString()));
            Assert.Equal(1, results.Count(r => r.Output.Contains(ThrowAwayProject.WorkerStarted)));
            Assert.Single(results, r => r.Output.Contains("cache hit (shared"));
            Assert.Equal(File.ReadAllBytes(a.PathOf("bin/Debug/net10.0/models/wine.onnx")), File.ReadAllBytes(b.PathOf("bin/Debug/net10.0/models/wine.onnx")));

            // A fresh clone: same sources in a new folder, no obj/, warm shared cache.
            using var fresh = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static, property);
            Assert.True(DotnetCommand.Run(fresh.Directory, "restore").Succeeded);
            var build = fresh.Build("--no-restore");
            Assert.True(build.Succeeded, build.ToString());
            Assert.DoesNotContain(ThrowAwayProject.WorkerStarted, build.Output);
            Assert.Contains("cache hit (shared", build.Output);
            // What holds on any machine: no worker ran, the model came from the cache. How long the copy takes is a
            // performance figure (benchmarks/RESULTS.md, "Cache hit from a warm shared cache"), not a test outcome.
            Assert.Matches(TaskTime(), build.Output);
            Assert.True(File.Exists(fresh.PathOf("bin/Debug/net10.0/models/wine.onnx")));
        }
        finally
        {
            System.IO.Directory.Delete(shared, recursive: true);
        }
    }

    /// <summary>What CacheLock logs (once) while another build holds the key's lock.</summary>
    private const string LockWaitMessage = "models/wine.onnx: another build is compressing the same inputs";

    [Fact]
    public void Multi_targeted_project_compresses_once()
    {
        using var project = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static);
        File.WriteAllText(project.PathOf("App.csproj"), File.ReadAllText(project.PathOf("App.csproj"))
            .Replace("<TargetFramework>net10.0</TargetFramework>", "<TargetFrameworks>net9.0;net10.0</TargetFrameworks>"));
        var build = project.Build();
        Assert.True(build.Succeeded, build.ToString());
        // Inner builds run in parallel; they share obj/modelbuild/cache and its per-key lock, so one runs the worker.
        Assert.Single(Regex.Matches(build.Output, ThrowAwayProject.WorkerStarted));
        Assert.Contains("cache hit (local", build.Output);
        Assert.Equal(File.ReadAllBytes(project.PathOf("bin/Debug/net9.0/models/wine.onnx")), File.ReadAllBytes(project.PathOf("bin/Debug/net10.0/models/wine.onnx")));
    }

    [Fact]
    public void Ctrl_C_during_compression_kills_the_worker_and_leaves_no_partial_output()
    {
        // Distilling the intent transformer for a million epochs cannot finish before the interrupt on any machine,
        // however fast: the test does not race the worker.
        using var project = new ThrowAwayProject(package, """
            <CompressModel Include="intent.onnx" OutputName="models/intent.onnx" Distill="true" Student="intent_student.onnx" Epochs="1000000"
                           TrainingData="intent_train_x.npy" TrainingLabels="intent_train_y.npy" />
            """);
        var transformer = Path.Combine(RepositoryPaths.Shared, "teachers", "synthetic-intent-transformer");
        File.Copy(Path.Combine(transformer, "teacher.onnx"), project.PathOf("intent.onnx"));
        File.Copy(Path.Combine(transformer, "student_scratch.onnx"), project.PathOf("intent_student.onnx"));
        File.Copy(Path.Combine(transformer, "train_x.npy"), project.PathOf("intent_train_x.npy"));
        File.Copy(Path.Combine(transformer, "train_y.npy"), project.PathOf("intent_train_y.npy"));
        Assert.True(DotnetCommand.Run(project.Directory, "restore").Succeeded);

        var build = project.StartBuild("--no-restore");
        if (!build.WaitForOutput(ThrowAwayProject.WorkerStarted, TimeSpan.FromMinutes(2))) Assert.Fail("no worker started: " + build.Wait());
        var log = System.IO.Directory.GetFiles(project.PathOf("obj/modelbuild/logs")).Single();
        // Let the worker get into its work (it has written progress), then interrupt the build as Ctrl+C does.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!File.ReadAllText(log).Contains("##modelbuild[progress]") && clock.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(50);
        build.Interrupt();
        var result = build.Wait();

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("ModelBuild: cancelled; the worker was stopped and no partial output was written.", result.Output);
        Assert.EndsWith("# cancelled: worker process tree killed", File.ReadAllText(log).TrimEnd());
        Assert.False(File.Exists(project.PathOf("obj/Debug/net10.0/modelbuild/models/intent.onnx")));
        Assert.False(File.Exists(project.PathOf("obj/Debug/net10.0/modelbuild/models/intent.onnx.stamp")));
        // No cache entry and no staging folder: only the (never deleted) lock file.
        Assert.All(System.IO.Directory.GetFileSystemEntries(project.PathOf("obj/modelbuild/cache")), entry => Assert.EndsWith(".lock", entry));
    }

    [GeneratedRegex(@"ModelBuild: CompressModels took ([\d.]+) s")]
    private static partial Regex TaskTime();
}
