using System.Diagnostics;

namespace ModelBuild.Cli.Tests;

public sealed class DoctorCommandTests
{
    /// <summary>
    /// A fresh process, with no library-path variables and an empty cache folder, loads TorchSharp and computes:
    /// nothing set by hand, nothing installed, nothing changed in the NuGet cache.
    /// </summary>
    [Fact]
    public async Task A_fresh_process_loads_TorchSharp_without_any_environment_set_by_hand()
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "modelbuild.dll");
        var cache = Directory.CreateTempSubdirectory("modelbuild-doctor-");
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(cli);
            start.ArgumentList.Add("doctor");
            foreach (var name in new[] { "LD_LIBRARY_PATH", "LD_PRELOAD", "DOTNET_ADDITIONAL_DEPS", "TORCHSHARP_HOME" })
            {
                start.Environment.Remove(name);
            }
            start.Environment["XDG_CACHE_HOME"] = cache.FullName;

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            var (output, errors) = (ModelBuild.TestSupport.ProducedCodes.Observe(await stdout)!, ModelBuild.TestSupport.ProducedCodes.Observe(await stderr)!);

            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{output}\n{errors}");
            Assert.Contains("ones(4).sum() = 4", output);
            // On a libstdc++ older than GCC 13's the patched copy lands in the fresh cache; on a newer one nothing is copied.
            Assert.Contains("LibTorchSharp:", output);
        }
        finally
        {
            cache.Delete(recursive: true);
        }
    }
}
