using System.Reflection;
using ModelBuild.Compression.Pipeline;

namespace ModelBuild.Compression.Tests.Architecture;

/// <summary>
/// The layering docs/architecture.md describes, enforced: TorchSharp only in the training code, MSBuild only in the
/// task, and no cycle between the engine's folders (a folder is a namespace: Data, Evaluation, StageContract,
/// Structure, the techniques, Pipeline; Pipeline/Contract is the shared contract, a folder of its own).
/// </summary>
public class LayeringTests
{
    private static readonly Assembly Engine = typeof(CompressionPipeline).Assembly;

    /// <summary>The training code: the distiller and its importer, libtorch's loader, and pruning's gradient-based parts.</summary>
    private static bool IsTrainingCode(Type type) =>
        Folder(type) is "Distillation" or "Native"
        || type.FullName is "ModelBuild.Compression.Pruning.TaylorImportance" or "ModelBuild.Compression.Pruning.DistillationRecovery";

    /// <summary>
    /// Dependencies that still point the wrong way: none since issue 14 removed the last (the stage contract moved below
    /// the techniques, the dependency graph below Pruning and Distillation, the data readers' ONNX Runtime session below
    /// Evaluation). One listed here is left out of the cycle check; a listed one that is gone fails the test (take it off).
    /// </summary>
    private static readonly (string From, string To)[] WrongWayNotYetRemoved = [];

    internal static string? Folder(Type type)
    {
        var ns = TypeReferences.Outermost(type).Namespace;
        const string root = "ModelBuild.Compression.";
        if (ns is null || !ns.StartsWith(root, StringComparison.Ordinal)) return null;
        var rest = ns[root.Length..];
        if (rest.StartsWith("Pipeline.Contract", StringComparison.Ordinal)) return "Contract";
        return rest.Split('.')[0];
    }

    private static IEnumerable<Type> EngineTypes() => Engine.GetTypes().Where(t => Folder(t) is not null);

    [Fact]
    public void TorchSharp_is_used_only_by_the_training_code()
    {
        var offenders = EngineTypes()
            .Where(t => !IsTrainingCode(TypeReferences.Outermost(t)))
            .SelectMany(t => TypeReferences.Of(t).Where(r => r.Namespace?.StartsWith("TorchSharp", StringComparison.Ordinal) == true)
                .Select(r => $"{TypeReferences.Outermost(t).FullName} uses {r.FullName}"))
            .Distinct().Order().ToList();
        Assert.True(offenders.Count == 0, "TorchSharp outside the training code:\n" + string.Join("\n", offenders));

        // The layers below and beside the engine do not load TorchSharp at all.
        foreach (var assembly in new[] { typeof(ModelBuild.Onnx.OnnxModel).Assembly })
            Assert.DoesNotContain(assembly.GetReferencedAssemblies(), a => a.Name!.StartsWith("TorchSharp", StringComparison.Ordinal));
        foreach (var project in new[] { "ModelBuild.Tasks", "ModelBuild.Runtime", "ModelBuild.Onnx" })
        {
            // Code only: the task's csproj names the TorchSharp package it declares for the worker.
            var code = SourceFilesMentioning(project, "using TorchSharp").Concat(SourceFilesMentioning(project, "TorchSharp.")).Where(IsCSharp).ToList();
            Assert.Empty(code);
        }
    }

    [Fact]
    public void MSBuild_types_are_used_only_by_the_task()
    {
        var src = Path.Combine(TestMaterials.RepoRoot, "src");
        foreach (var project in Directory.GetDirectories(src).Select(Path.GetFileName).Where(p => p != "ModelBuild.Tasks"))
            Assert.Empty(SourceFilesMentioning(project!, "Microsoft.Build"));
        foreach (var assembly in new[] { Engine, typeof(ModelBuild.Onnx.OnnxModel).Assembly })
            Assert.DoesNotContain(assembly.GetReferencedAssemblies(), a => a.Name!.StartsWith("Microsoft.Build", StringComparison.Ordinal));
    }

    [Fact]
    public void The_engines_folders_form_no_cycle()
    {
        var edges = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var why = new Dictionary<(string, string), string>();
        foreach (var type in EngineTypes())
        {
            var from = Folder(type)!;
            edges.TryAdd(from, []);
            foreach (var used in TypeReferences.Of(type).Where(r => r.Assembly == Engine))
            {
                var to = Folder(used);
                if (to is null || to == from) continue;
                if (edges[from].Add(to)) why[(from, to)] = $"{TypeReferences.Outermost(type).Name} -> {TypeReferences.Outermost(used).Name}";
            }
        }
        var gone = WrongWayNotYetRemoved.Where(e => !edges.GetValueOrDefault(e.From, []).Contains(e.To)).ToList();
        Assert.True(gone.Count == 0, "These dependencies are gone; take them off WrongWayNotYetRemoved: " + string.Join("; ", gone));
        foreach (var (from, to) in WrongWayNotYetRemoved) edges[from].Remove(to);

        var cycles = StronglyConnected(edges).Where(c => c.Count > 1).Select(c => c.Order(StringComparer.Ordinal).ToArray()).ToList();
        string Describe(string[] cycle) => string.Join(" <-> ", cycle) + " (" + string.Join("; ",
            cycle.SelectMany(a => cycle.Where(b => edges[a].Contains(b)).Select(b => $"{a}->{b}: {why[(a, b)]}"))) + ")";
        Assert.True(cycles.Count == 0, "Folder cycles in the engine:\n" + string.Join("\n", cycles.Select(Describe)));
    }

    private static bool IsCSharp(string file) => file.EndsWith(".cs", StringComparison.Ordinal);

    /// <summary>Tarjan's strongly connected components of the folder graph.</summary>
    private static List<List<string>> StronglyConnected(Dictionary<string, HashSet<string>> edges)
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var result = new List<List<string>>();
        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in edges.GetValueOrDefault(v) ?? [])
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var component = new List<string>();
            string x;
            do { x = stack.Pop(); onStack.Remove(x); component.Add(x); } while (x != v);
            result.Add(component);
        }
        foreach (var v in edges.Keys.Order(StringComparer.Ordinal)) if (!index.ContainsKey(v)) Visit(v);
        return result;
    }

    private static List<string> SourceFilesMentioning(string project, string text)
    {
        var folder = Path.Combine(TestMaterials.RepoRoot, "src", project);
        return Directory.EnumerateFiles(folder, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Where(f => File.ReadLines(f).Any(l => l.Contains(text, StringComparison.Ordinal) && !l.TrimStart().StartsWith("//", StringComparison.Ordinal)))
            .Select(f => Path.GetRelativePath(TestMaterials.RepoRoot, f)).ToList();
    }
}
