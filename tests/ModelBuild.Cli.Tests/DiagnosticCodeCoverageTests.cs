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

    private static readonly Regex Comment = new(@"//[^\n]*|/\*.*?\*/", RegexOptions.Compiled | RegexOptions.Singleline);
    private static readonly Regex StringLiteral = new(@"""(?:[^""\\\n]|\\.)*""", RegexOptions.Compiled);
    private static readonly Regex NamedCode = new(@"const string (\w+) = ""(MB\d{4})""", RegexOptions.Compiled);

    /// <summary>
    /// A code counts as tested when test code (not a comment, not a test's method name) uses it: as a string literal the
    /// test compares with what the product produced (e.Code, a warning, CLI output), or through the named constant the
    /// product raises it with (TaskCodes.WorkerCrashed). Still a reading of the sources: it cannot see that the
    /// assertion ran, but a code mentioned only in prose or in a method name no longer passes.
    /// </summary>
    [Fact]
    public void Every_code_is_triggered_by_a_test()
    {
        var names = new Dictionary<string, List<string>>();
        foreach (var file in CSharpFiles("src"))
            foreach (Match m in NamedCode.Matches(File.ReadAllText(file)))
                (names.TryGetValue(m.Groups[2].Value, out var list) ? list : names[m.Groups[2].Value] = []).Add(m.Groups[1].Value);
        var tested = new HashSet<string>();
        var self = Path.GetFileName(typeof(DiagnosticCodeCoverageTests).Name) + ".cs";
        foreach (var file in CSharpFiles("tests").Where(f => Path.GetFileName(f) != self))
        {
            var code = Comment.Replace(File.ReadAllText(file), "");
            foreach (Match literal in StringLiteral.Matches(code))
                foreach (Match m in Regex.Matches(literal.Value, @"MB\d{4}")) tested.Add(m.Value);
            foreach (var (mb, constants) in names)
                if (constants.Any(c => Regex.IsMatch(code, @"\." + c + @"\b"))) tested.Add(mb);
        }
        var missing = SourceCodes().Where(c => !tested.Contains(c)).ToList();
        Assert.True(missing.Count == 0,
            $"{missing.Count} code(s) raised in src/ are used by no test under tests/ (add a test that triggers each and asserts on the code, as a string or through its named constant): {string.Join(", ", missing)}");
    }

    [Fact]
    public void A_code_named_only_in_a_comment_or_a_method_name_is_not_counted_as_tested()
    {
        var code = Comment.Replace("// MB0001 in a comment\npublic void Fails_with_MB0002() { Assert.Equal(\"MB0003\", e.Code); }\n", "");
        var literals = StringLiteral.Matches(code).SelectMany(l => Regex.Matches(l.Value, @"MB\d{4}")).Select(m => m.Value).ToList();
        Assert.Equal(["MB0003"], literals);
    }
}
