using System.Diagnostics;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// Every measured factor or percentage in README.md, docs/ and the samples' READMEs is one benchmarks/RESULTS.md
/// records beside the command that measured it: benchmarks/check-figures.sh checks it, and CI runs it through this test.
/// </summary>
public class FigureClaimsTests
{
    private static (int ExitCode, string Output) CheckFigures(params string[] docs)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        start.ArgumentList.Add(Path.Combine(TestPaths.RepoRoot, "benchmarks", "check-figures.sh"));
        foreach (var d in docs) start.ArgumentList.Add(d);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result);
    }

    [Fact]
    public void Every_factor_quoted_in_the_docs_is_in_RESULTS_md()
    {
        var (exit, output) = CheckFigures();
        Assert.True(exit == 0, "figures in the docs that benchmarks/RESULTS.md does not record:\n" + output);
    }

    [Fact]
    public void A_factor_measured_nowhere_is_reported_with_its_file_and_line_and_transcripts_are_not_claims()
    {
        var dir = Directory.CreateTempSubdirectory("mb-figures-").FullName;
        var doc = Path.Combine(dir, "claims.md");
        File.WriteAllText(doc, "Intro.\nIt is 123.4x faster, and 7.3x smaller.\n```\nModelBuild: 987.6x smaller\n```\n" +
                               "Accuracy 12.34%, the teacher 95.5%; the gate defaults to `99%`.\n");
        var (exit, output) = CheckFigures(doc);
        Assert.Equal(1, exit);
        Assert.Contains($"{doc}:2:123.4x", output);
        Assert.Contains($"{doc}:6:12.34%", output); // a percentage is a figure too
        Assert.DoesNotContain("7.3x", output);   // recorded in RESULTS.md ("Combined pipeline")
        Assert.DoesNotContain("987.6x", output); // inside a ``` transcript
        Assert.DoesNotContain("95.5%", output);  // RESULTS.md has it as 95.50%: the same number
        Assert.DoesNotContain("99%", output);    // `inline code`: a setting, not a measurement
        Directory.Delete(dir, true);
    }
}
