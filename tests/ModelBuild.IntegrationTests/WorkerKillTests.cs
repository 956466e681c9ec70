using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace ModelBuild.IntegrationTests;

/// <summary>
/// Faults (issue 13): <c>kill -9</c> of the worker at random points of a real <c>dotnet build</c> leaves no partial
/// model, report or cache entry, and the next build succeeds. The points are drawn with a fixed seed over the worker's
/// measured lifetime (MODELBUILD_KILL_SEED, MODELBUILD_KILL_POINTS change them).
/// </summary>
[Collection(PackageCollection.Name)]
public sealed class WorkerKillTests(PackageFixture package, ITestOutputHelper output)
{
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("MODELBUILD_KILL_SEED"), out var s) ? s : 13;
    private static readonly int Points = int.TryParse(Environment.GetEnvironmentVariable("MODELBUILD_KILL_POINTS"), out var p) ? p : 20;

    [Fact]
    public void Kill_9_of_the_worker_at_random_points_leaves_nothing_behind_and_the_next_build_succeeds()
    {
        if (!OperatingSystem.IsLinux()) return; // the worker is found through /proc
        using var project = new ThrowAwayProject(package, ThrowAwayProject.WineInt8Static);
        Assert.True(DotnetCommand.Run(project.Directory, "restore").Succeeded);

        // The worker's lifetime on this machine now: from the task's "starting worker" to the worker's exit.
        var lifetime = MeasureWorkerLifetime(project);
        output.WriteLine($"seed {Seed}, {Points} points, worker lifetime {lifetime.TotalMilliseconds:0} ms");
        var random = new Random(Seed);
        var kills = 0;
        for (var attempt = 0; kills < Points && attempt < Points * 3; attempt++)
        {
            Reset(project);
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * lifetime.TotalMilliseconds * (attempt < Points ? 0.8 : 0.4));
            var build = project.StartBuild("--no-restore");
            if (!build.WaitForOutput(ThrowAwayProject.WorkerStarted, TimeSpan.FromMinutes(2))) Assert.Fail("no worker started: " + build.Wait());
            var clock = Stopwatch.StartNew();
            int? killed = null;
            while (killed is null && !build.HasExited)
            {
                var pid = FindWorker(project.Directory);
                if (pid is { } id && clock.Elapsed >= delay)
                {
                    try { using var worker = Process.GetProcessById(id); worker.Kill(); killed = id; } // SIGKILL on Unix
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
                }
                else if (pid is null && clock.Elapsed > TimeSpan.FromSeconds(1) && clock.Elapsed > delay) break; // it already finished
                Thread.Sleep(5);
            }
            var result = build.Wait();
            if (killed is null)
            {
                output.WriteLine($"point {attempt}: {delay.TotalMilliseconds:0} ms was after the worker ended; drawn again");
                continue;
            }
            kills++;
            output.WriteLine($"point {attempt}: killed worker {killed} at {delay.TotalMilliseconds:0} ms");
            Assert.False(result.Succeeded, result.ToString());
            Assert.Contains("MB0605", result.Output);
            AssertNothingLeft(project);

            var recovery = project.Build("--no-restore");
            Assert.True(recovery.Succeeded, recovery.ToString());
            Assert.Contains(ThrowAwayProject.WorkerStarted, recovery.Output);
            Assert.True(File.Exists(project.PathOf("bin/Debug/net10.0/models/wine.onnx")));
            AssertNoStaging(project);
        }
        output.WriteLine($"{kills} kills, {kills} clean recoveries");
        Assert.Equal(Points, kills);
    }

    private static TimeSpan MeasureWorkerLifetime(ThrowAwayProject project)
    {
        var build = project.StartBuild("--no-restore");
        if (!build.WaitForOutput(ThrowAwayProject.WorkerStarted, TimeSpan.FromMinutes(2))) Assert.Fail("no worker started: " + build.Wait());
        var clock = Stopwatch.StartNew();
        while (FindWorker(project.Directory) is null && clock.Elapsed < TimeSpan.FromSeconds(5)) Thread.Sleep(5);
        while (FindWorker(project.Directory) is not null) Thread.Sleep(5);
        var lifetime = clock.Elapsed;
        Assert.True(build.Wait().Succeeded);
        return lifetime;
    }

    /// <summary>The worker of this project: a process whose command line runs modelbuild.dll compress on a recipe under it.</summary>
    private static int? FindWorker(string projectDirectory)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            string commandLine;
            try { commandLine = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' '); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            if (commandLine.Contains("modelbuild.dll compress", StringComparison.Ordinal) && commandLine.Contains(projectDirectory, StringComparison.Ordinal)) return pid;
        }
        return null;
    }

    /// <summary>No model, stamp or report in obj/ or bin/, and nothing in the cache but lock files.</summary>
    private static void AssertNothingLeft(ThrowAwayProject project)
    {
        foreach (var file in new[] { "obj/Debug/net10.0/modelbuild/models/wine.onnx", "obj/Debug/net10.0/modelbuild/models/wine.onnx.stamp",
                     "bin/Debug/net10.0/models/wine.onnx" })
            Assert.False(File.Exists(project.PathOf(file)), $"{file} was left behind");
        var modelbuildObj = project.PathOf("obj/Debug/net10.0/modelbuild");
        if (Directory.Exists(modelbuildObj))
            Assert.Empty(Directory.EnumerateFiles(modelbuildObj, "*.report.*", SearchOption.AllDirectories));
        // The key's entry is not there: only lock files, the worker's per-stage cache (complete stages are reusable) and
        // the retention's marker, which any earlier build here that compressed left (CacheRetention.MarkerFile).
        Assert.All(Directory.GetFileSystemEntries(project.PathOf("obj/modelbuild/cache")),
            entry => Assert.True(entry.EndsWith(".lock", StringComparison.Ordinal) || Path.GetFileName(entry) is "stages" or ".modelbuild-trimmed", $"{entry} was left in the cache"));
    }

    /// <summary>After the next build: no staging folder anywhere in the cache (a killed worker's is swept by the next run).</summary>
    private static void AssertNoStaging(ThrowAwayProject project) =>
        Assert.Empty(Directory.EnumerateFileSystemEntries(project.PathOf("obj/modelbuild/cache"), "*.tmp", SearchOption.AllDirectories));

    /// <summary>Back to a cache miss: no output, stamp, report or cache entry (the lock files may stay).</summary>
    private static void Reset(ThrowAwayProject project)
    {
        foreach (var folder in new[] { "obj/Debug/net10.0/modelbuild", "bin/Debug/net10.0/models" })
            if (Directory.Exists(project.PathOf(folder))) Directory.Delete(project.PathOf(folder), recursive: true);
        var cache = project.PathOf("obj/modelbuild/cache");
        if (Directory.Exists(cache))
            foreach (var entry in Directory.GetDirectories(cache)) Directory.Delete(entry, recursive: true);
    }
}
