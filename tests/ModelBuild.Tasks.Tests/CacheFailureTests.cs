using System.Diagnostics;
using ModelBuild.Tasks.Diagnostics;

namespace ModelBuild.Tasks.Tests;

/// <summary>
/// I/O failures around the cache say what they are: an unreadable input is MB0611 (not "restore again"), a read-only or
/// full shared cache is skipped with the MB0612 warning (not "another build holds the lock" and an hour's wait), an
/// unwritable obj/ cache is the MB0612 error.
/// </summary>
public sealed class CacheFailureTests : IDisposable
{
    private readonly FakeWorkerProject project = new();
    private string? mounted;

    public void Dispose()
    {
        if (mounted is not null) Run("umount", "-l", mounted);
        project.Dispose();
    }

    [Fact]
    public void An_input_that_cannot_be_read_while_hashing_is_MB0611_naming_it()
    {
        var engine = new RecordingBuildEngine();
        var calibration = Path.Combine(project.Project, "calib.npy");
        // .NET emulates FileShare with flock on Unix: while this handle is open, every other open for reading fails,
        // for root too, as a file another program locks (or one this user may not read) does.
        using (new FileStream(calibration, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
        {
            Assert.False(project.Task(engine, project.Worker(FakeWorkerProject.Succeeds)).Execute());
        }
        var error = Assert.Single(engine.Errors);
        Assert.Equal("MB0611", error.Code);
        Assert.Contains("calib.npy", error.Message);
        Assert.Equal(0, project.WorkerRuns);
        Assert.False(File.Exists(project.Output));
    }

    [Fact]
    public void An_obj_cache_that_cannot_be_written_is_the_MB0612_error()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(project.LocalCache)!);
        File.WriteAllText(project.LocalCache, "a file where the cache folder goes");
        var engine = new RecordingBuildEngine();
        Assert.False(project.Task(engine, project.Worker(FakeWorkerProject.Succeeds)).Execute());
        Assert.Equal("MB0612", Assert.Single(engine.Errors).Code);
        Assert.False(File.Exists(project.Output));
    }

    [SkippableTheory]
    [InlineData("read-only")]
    [InlineData("full")]
    public void A_shared_cache_that_cannot_be_written_is_skipped_with_the_MB0612_warning(string how)
    {
        var shared = Directory.CreateDirectory(Path.Combine(project.Root, "shared-cache")).FullName;
        var options = how == "read-only" ? "ro,size=1m" : "size=64k";
        // A read-only mount, not chmod: the tests run as root, whom file permissions do not stop (EROFS stops root too).
        var mountedHere = OperatingSystem.IsLinux() && Run("mount", "-t", "tmpfs", "-o", options, "tmpfs", shared) == 0;
        // In CI a skip would leave the read-only/full cache unproven while the run reports green: fail instead.
        if (!mountedHere && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI")))
            Assert.Fail("CI is set but a tmpfs could not be mounted, so the read-only/full shared cache case cannot be tested here");
        Skip.IfNot(mountedHere, "mounting a tmpfs is not allowed here (needs root in a container that permits mount)");
        mounted = shared;
        if (how == "full")
        {
            try { File.WriteAllBytes(Path.Combine(shared, "filler"), new byte[1 << 20]); }
            catch (IOException) { } // the disk is now full: what the test wants
        }
        var engine = new RecordingBuildEngine();
        var task = project.Task(engine, project.Worker(FakeWorkerProject.Succeeds), shared);
        task.LockTimeoutSeconds = 5; // before the fix the build waited on the lock it could not create; fail fast
        Assert.True(task.Execute(), engine.AllText);
        var warning = Assert.Single(engine.Warnings, w => w.Code == "MB0612");
        Assert.Contains(shared, warning.Message);
        Assert.Empty(engine.Errors);
        Assert.Equal(1, project.WorkerRuns);
        Assert.Equal([1, 2, 3, 4], File.ReadAllBytes(project.Output));
        Assert.Single(Directory.GetDirectories(project.LocalCache));
    }

    private static int Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(start)!;
            process.WaitForExit();
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
