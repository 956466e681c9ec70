using System.Text.RegularExpressions;

namespace ModelBuild.Cli.Tests;

/// <summary>
/// Every MBxxxx code the source can raise has a row in docs/diagnostics.md and a test that triggers it (a test file
/// that names the code, which the tests do by asserting on it). Codes are the "MBnnnn" string literals in src/**/*.cs.
/// </summary>
public class DiagnosticCodeCoverageTests
{
    private static readonly Regex CodeLiteral = new("\"(MB\\d{4})\"", RegexOptions.Compiled);

    private static SortedSet<string> SourceCodes()
    {
        var codes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var file in CSharpFiles("src"))
            foreach (Match m in CodeLiteral.Matches(File.ReadAllText(file))) codes.Add(m.Groups[1].Value);
        return codes;
    }

    private static IEnumerable<string> CSharpFiles(string folder) =>
        Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, folder), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"));

    [Fact]
    public void The_scan_finds_the_codes()
    {
        var codes = SourceCodes();
        Assert.Contains("MB0001", codes);
        Assert.Contains("MB0599", codes);
        Assert.True(codes.Count >= 40, $"only {codes.Count} codes found under src/: the scan is broken");
    }

    [Fact]
    public void Every_code_has_a_row_in_docs_diagnostics_md()
    {
        var docs = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "diagnostics.md"));
        var documented = new HashSet<string>(Regex.Matches(docs, @"^\|\s*(MB\d{4})\s*\|", RegexOptions.Multiline).Select(m => m.Groups[1].Value));
        var missing = SourceCodes().Where(c => !documented.Contains(c)).ToList();
        Assert.True(missing.Count == 0,
            $"{missing.Count} code(s) raised in src/ have no row (| code | cause | fix |) in docs/diagnostics.md: {string.Join(", ", missing)}");
    }

    [Fact]
    public void Every_code_is_triggered_by_a_test()
    {
        var tested = new HashSet<string>();
        var self = Path.GetFileName(typeof(DiagnosticCodeCoverageTests).Name) + ".cs";
        foreach (var file in CSharpFiles("tests").Where(f => Path.GetFileName(f) != self))
            foreach (Match m in Regex.Matches(File.ReadAllText(file), @"MB\d{4}")) tested.Add(m.Value);
        var missing = SourceCodes().Where(c => !tested.Contains(c)).ToList();
        Assert.True(missing.Count == 0,
            $"{missing.Count} code(s) raised in src/ are named by no test under tests/ (add a test that triggers each and asserts on the code): {string.Join(", ", missing)}");
    }
}
